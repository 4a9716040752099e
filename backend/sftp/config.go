package sftp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/location"
)

// DefaultConnections is restic's default for -o sftp.connections.
const DefaultConnections = 5

// Config says how to reach the repository.
type Config struct {
	// User, Host and Port are passed to ssh (-l, the host, -p); empty
	// values leave the choice to ssh and the user's ssh configuration.
	User, Host, Port string
	// Path is the repository directory on the server: absolute when it
	// starts with "/", otherwise relative to the login directory.
	Path string
	// Command replaces the ssh command line entirely (-o sftp.command). It
	// is split into words like a shell would and run without a shell; it
	// must speak SFTP on its standard input and output.
	Command string
	// Args are extra arguments for ssh (-o sftp.args), split like Command.
	Args string
	// Connections limits how many requests run at the same time (-o
	// sftp.connections); zero means DefaultConnections.
	Connections uint
	// StderrLine, when set, receives every line the subprocess writes to
	// its standard error (ssh's warnings, errors and prompts), as it
	// arrives. When it is nil, the last lines are added to errors instead.
	StderrLine func(line string)
}

// ConfigFromLocation returns the config for a parsed "sftp:" location.
func ConfigFromLocation(l *location.SFTPConfig) Config {
	return Config{
		User:        l.User,
		Host:        l.Host,
		Port:        l.Port,
		Path:        l.Path,
		Command:     l.Command,
		Args:        l.Args,
		Connections: l.Connections,
	}
}

// ApplyOptions sets the fields named by restic's extended options
// (-o sftp.command=…, -o sftp.args=…, -o sftp.connections=N). Keys are
// lower case; keys of other backends are ignored, unknown sftp keys are an
// error.
func (c *Config) ApplyOptions(opts map[string]string) error {
	for k, v := range opts {
		name, ok := strings.CutPrefix(k, "sftp.")
		if !ok {
			continue
		}
		switch name {
		case "command":
			c.Command = v
		case "args":
			c.Args = v
		case "connections":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n == 0 {
				return fmt.Errorf("invalid value %q for option %s: want a positive number", v, k)
			}
			c.Connections = uint(n)
		default:
			return fmt.Errorf("option %s is not known", k)
		}
	}
	return nil
}

// String returns the location in restic's "sftp:user@host:path" form.
func (c Config) String() string {
	host := c.Host
	if c.User != "" {
		host = c.User + "@" + host
	}
	if c.Port != "" {
		if strings.Contains(c.Host, ":") {
			host = strings.Replace(host, c.Host, "["+c.Host+"]", 1)
		}
		return "sftp://" + host + ":" + c.Port + "/" + c.Path
	}
	return "sftp:" + host + ":" + c.Path
}

// command returns the program to start and its arguments: the words of
// Command when it is set, otherwise ssh with restic's argument order
// "host [-p port] [-l user] [args…] -s sftp".
func (c Config) command() (string, []string, error) {
	if c.Command != "" {
		if c.Args != "" {
			return "", nil, errors.New("cannot specify both sftp.command and sftp.args options")
		}
		words, err := backend.SplitShellStrings(c.Command)
		if err != nil {
			return "", nil, fmt.Errorf("sftp.command: %w", err)
		}
		return words[0], words[1:], nil
	}
	if c.Host == "" {
		return "", nil, errors.New("sftp: no host given")
	}
	args := []string{c.Host}
	if c.Port != "" {
		args = append(args, "-p", c.Port)
	}
	if c.User != "" {
		args = append(args, "-l", c.User)
	}
	if c.Args != "" {
		extra, err := backend.SplitShellStrings(c.Args)
		if err != nil {
			return "", nil, fmt.Errorf("sftp.args: %w", err)
		}
		args = append(args, extra...)
	}
	return "ssh", append(args, "-s", "sftp"), nil
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/feature"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// version is the restic version arca is compatible with.
const resticVersion = "0.19.1"

// arcaVersion is arca's own version.
const arcaVersion = "0.1.0-dev"

// timeFormat is how restic prints timestamps.
const timeFormat = "2006-01-02 15:04:05"

// app holds one invocation's global options and output streams.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// terminal is standard output when it is a terminal. status is the
	// status line a counter draws at its bottom; stdout and stderr clear
	// it before each write and draw it again after.
	terminal *os.File
	status   *termStatus
	opts     globalOptions
	// features are the feature flags from RESTIC_FEATURES
	features *feature.Set
	// password is the password the options give, resolved once
	password passwordState
	// commands registered by the cmd_*.go files
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	a := &app{stdin: stdin, stdout: serialize(stdout), stderr: serialize(stderr), features: feature.Defaults()}
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		a.terminal = f
		a.status = newTermStatus(f)
		a.stdout, a.stderr = a.status.through(a.stdout), a.status.through(a.stderr)
	}
	return a
}

// syncWriter lets several goroutines (progress, lock warnings, a child
// process's output) write to one stream without interleaving bytes.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// serialize wraps w in a syncWriter, except for an *os.File, whose writes
// the kernel already keeps whole and which callers test for a terminal.
func serialize(w io.Writer) io.Writer {
	if _, ok := w.(*os.File); ok {
		return w
	}
	return &syncWriter{w: w}
}

// commandBuilders is the list of functions adding subcommands; each
// cmd_*.go file appends its builder in an init function. It is written
// only during package initialisation.
var commandBuilders []func(a *app) *cobra.Command

func registerCommand(f func(a *app) *cobra.Command) { commandBuilders = append(commandBuilders, f) }

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "restic",
		Short: "Backup and restore files",
		Long: `arca is a drop-in replacement for restic: it reads and writes restic
repositories with the same commands, flags and output.`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		DisableAutoGenTag: true,
		PersistentPreRunE: func(c *cobra.Command, args []string) error {
			if err := a.opts.finish(c.Flags()); err != nil {
				return err
			}
			if needsPassword(c.Name()) {
				_, err := a.resolvePassword(c.Context())
				return err
			}
			return nil
		},
	}
	// restic has no "completion" command (generate writes the scripts)
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	a.opts.addFlags(root.PersistentFlags())
	// restic's help lists its commands in two groups, and the ones
	// without a group (generate, help, version) under "Additional
	// Commands"
	root.AddGroup(&cobra.Group{ID: "default", Title: "Available Commands:"},
		&cobra.Group{ID: "advanced", Title: "Advanced Options:"})
	for _, b := range commandBuilders {
		c := b(a)
		switch c.Name() {
		case "features", "options":
			c.GroupID = "advanced"
		case "generate", "version":
		default:
			c.GroupID = "default"
		}
		root.AddCommand(c)
	}
	// flag warnings ("Flag --repo2 has been deprecated, …") go to stderr,
	// as in restic, not to the command's output
	var quietFlags func(c *cobra.Command)
	quietFlags = func(c *cobra.Command) {
		c.Flags().SetOutput(a.stderr)
		for _, sub := range c.Commands() {
			quietFlags(sub)
		}
	}
	quietFlags(root)
	return root
}

// globalOptions are restic's global flags.
type globalOptions struct {
	Repo               string
	RepositoryFile     string
	PasswordFile       string
	PasswordCommand    string
	KeyHint            string
	Quiet              bool
	Verbose            int
	NoLock             bool
	RetryLock          time.Duration
	JSON               bool
	CacheDir           string
	NoCache            bool
	CleanupCache       bool
	InsecureNoPassword bool
	InsecureTLS        bool
	CACerts            []string
	TLSClientCert      string
	LimitUpload        int
	LimitDownload      int
	Options            []string
	HTTPUserAgent      string
	StuckTimeout       time.Duration
	Compression        string
	PackSize           uint
	NoExtraVerify      bool

	// password is resolved from the flags and environment by finish.
	password string
}

func (o *globalOptions) addFlags(f *pflag.FlagSet) {
	f.StringVarP(&o.Repo, "repo", "r", "", "`repository` to backup to or restore from (default: $RESTIC_REPOSITORY)")
	f.StringVar(&o.RepositoryFile, "repository-file", "", "`file` to read the repository location from (default: $RESTIC_REPOSITORY_FILE)")
	f.StringVarP(&o.PasswordFile, "password-file", "p", "", "`file` to read the repository password from (default: $RESTIC_PASSWORD_FILE)")
	f.StringVar(&o.KeyHint, "key-hint", "", "`key` ID of key to try decrypting first (default: $RESTIC_KEY_HINT)")
	f.StringVar(&o.PasswordCommand, "password-command", "", "shell `command` to obtain the repository password from (default: $RESTIC_PASSWORD_COMMAND)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "do not output comprehensive progress report")
	f.CountVarP(&o.Verbose, "verbose", "v", "be verbose (specify multiple times or a level using --verbose=n``, max level/times is 2)")
	f.BoolVar(&o.NoLock, "no-lock", false, "do not lock the repository, this allows some operations on read-only repositories")
	f.DurationVar(&o.RetryLock, "retry-lock", 0, "retry to lock the repository if it is already locked, takes a value like 5m or 2h (default: no retries)")
	f.BoolVar(&o.JSON, "json", false, "set output mode to JSON for commands that support it")
	f.StringVar(&o.CacheDir, "cache-dir", "", "set the cache `directory`. (default: use system default cache directory)")
	f.BoolVar(&o.NoCache, "no-cache", false, "do not use a local cache")
	f.StringSliceVar(&o.CACerts, "cacert", nil, "`file` to load root certificates from (default: use system certificates or $RESTIC_CACERT)")
	f.StringVar(&o.TLSClientCert, "tls-client-cert", "", "path to a `file` containing PEM encoded TLS client certificate and private key (default: $RESTIC_TLS_CLIENT_CERT)")
	f.BoolVar(&o.InsecureNoPassword, "insecure-no-password", false, "use an empty password for the repository, must be passed to every restic command (insecure)")
	f.BoolVar(&o.InsecureTLS, "insecure-tls", false, "skip TLS certificate verification when connecting to the repository (insecure)")
	f.BoolVar(&o.CleanupCache, "cleanup-cache", false, "auto remove old cache directories")
	o.Compression = "auto"
	f.Var(modeFlag{&o.Compression}, "compression", "compression mode (only available for repository format version 2), one of (auto|off|fastest|better|max) (default: $RESTIC_COMPRESSION)")
	f.BoolVar(&o.NoExtraVerify, "no-extra-verify", false, "skip additional verification of data before upload (see documentation)")
	f.IntVar(&o.LimitUpload, "limit-upload", 0, "limits uploads to a maximum `rate` in KiB/s. (default: unlimited)")
	f.IntVar(&o.LimitDownload, "limit-download", 0, "limits downloads to a maximum `rate` in KiB/s. (default: unlimited)")
	f.UintVar(&o.PackSize, "pack-size", 0, "set target pack `size` in MiB, created pack files may be larger (default: $RESTIC_PACK_SIZE)")
	f.StringSliceVarP(&o.Options, "option", "o", []string{}, "set extended option (`key=value`, can be specified multiple times)")
	f.StringVar(&o.HTTPUserAgent, "http-user-agent", "", "set a http user agent for outgoing http requests")
	f.DurationVar(&o.StuckTimeout, "stuck-request-timeout", 5*time.Minute, "`duration` after which to retry stuck requests")
}

// modeFlag is a string flag shown as "--compression mode" with an unquoted
// default in help and man pages, as restic's own flag type shows it.
type modeFlag struct{ p *string }

func (m modeFlag) String() string {
	if m.p == nil {
		return ""
	}
	return *m.p
}
func (m modeFlag) Set(s string) error {
	if _, err := repo.ParseCompression(s); err != nil {
		return err
	}
	*m.p = s
	return nil
}
func (m modeFlag) Type() string { return "mode" }

// env returns an environment variable; set-but-empty counts as unset.
func env(name string) string { return os.Getenv(name) }

// finish fills options from the environment where the flag was not given.
func (o *globalOptions) finish(f *pflag.FlagSet) error {
	fromEnv := func(flag string, dst *string, name string) {
		if !f.Changed(flag) && *dst == "" {
			*dst = env(name)
		}
	}
	fromEnv("repo", &o.Repo, "RESTIC_REPOSITORY")
	fromEnv("repository-file", &o.RepositoryFile, "RESTIC_REPOSITORY_FILE")
	fromEnv("password-file", &o.PasswordFile, "RESTIC_PASSWORD_FILE")
	fromEnv("password-command", &o.PasswordCommand, "RESTIC_PASSWORD_COMMAND")
	fromEnv("key-hint", &o.KeyHint, "RESTIC_KEY_HINT")
	fromEnv("cache-dir", &o.CacheDir, "RESTIC_CACHE_DIR")
	fromEnv("tls-client-cert", &o.TLSClientCert, "RESTIC_TLS_CLIENT_CERT")
	fromEnv("http-user-agent", &o.HTTPUserAgent, "RESTIC_HTTP_USER_AGENT")
	if !f.Changed("cacert") && env("RESTIC_CACERT") != "" {
		o.CACerts = strings.Split(env("RESTIC_CACERT"), ",")
	}
	// restic checks these two in this order; a bad flag value has
	// already been refused by the flag itself
	if v := env("RESTIC_PACK_SIZE"); !f.Changed("pack-size") && v != "" {
		size, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fatalf("invalid value for RESTIC_PACK_SIZE %q: %v", v, err)
		}
		o.PackSize = uint(size)
	}
	if v := env("RESTIC_COMPRESSION"); !f.Changed("compression") && v != "" {
		if _, err := repo.ParseCompression(v); err != nil {
			return fatalf("invalid value for RESTIC_COMPRESSION %q: %v", v, err)
		}
		o.Compression = v
	}
	if o.Quiet && o.Verbose > 0 {
		return fatalf("--quiet and --verbose cannot be specified at the same time")
	}
	// restic parses the -o options as a command starts
	_, err := o.extendedOptions()
	return err
}

// checkPackSize refuses a --pack-size (or RESTIC_PACK_SIZE) outside
// restic's bounds, with restic's words; 0 means the default.
func (o *globalOptions) checkPackSize() error {
	const minMiB, maxMiB = repo.MinPackSize >> 20, repo.MaxPackSize >> 20
	switch {
	case o.PackSize == 0:
		return nil
	case o.PackSize > maxMiB:
		return fmt.Errorf("pack size larger than limit of %v MiB", maxMiB)
	case o.PackSize < minMiB:
		return fmt.Errorf("pack size smaller than minimum of %v MiB", minMiB)
	}
	return nil
}

// verbosity returns restic's verbosity level: 0 quiet, 1 normal, 2+ verbose.
func (o *globalOptions) verbosity() int {
	switch {
	case o.Quiet:
		return 0
	case o.Verbose > 0:
		return 1 + o.Verbose
	}
	return 1
}

// printf prints normal output (suppressed by --quiet).
func (a *app) printf(format string, args ...any) {
	if a.opts.verbosity() >= 1 {
		fmt.Fprintf(a.stdout, format, args...)
	}
}

// verbosef prints output shown with --verbose.
func (a *app) verbosef(format string, args ...any) {
	if a.opts.verbosity() >= 2 {
		fmt.Fprintf(a.stdout, format, args...)
	}
}

// warnf prints a warning to stderr (always).
func (a *app) warnf(format string, args ...any) {
	fmt.Fprintf(a.stderr, format, args...)
}

// printJSON writes v as one line of JSON to stdout.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printExitError prints the final error as restic does: text, or an
// exit_error JSON message on stderr with --json.
func (a *app) printExitError(code int, msg string) {
	if a.opts.JSON {
		enc := json.NewEncoder(a.stderr)
		_ = enc.Encode(struct {
			MessageType string `json:"message_type"`
			Code        int    `json:"code"`
			Message     string `json:"message"`
		}{"exit_error", code, msg})
		return
	}
	fmt.Fprintln(a.stderr, msg)
}

// stdinIsTerminal reports whether standard input is an interactive terminal.
func (a *app) stdinIsTerminal() bool {
	f, ok := a.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// stdoutIsTerminal reports whether standard output is a terminal.
func (a *app) stdoutIsTerminal() bool { return a.terminal != nil }

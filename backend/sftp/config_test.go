package sftp

import (
	"slices"
	"strings"
	"testing"

	"github.com/arca-backup/arca/backend/location"
)

// TestCommand: the ssh command line is restic's, argument for argument.
func TestCommand(t *testing.T) {
	tests := []struct {
		cfg     Config
		program string
		args    []string
		err     string
	}{
		{Config{User: "user", Host: "host", Path: "dir"}, "ssh", []string{"host", "-l", "user", "-s", "sftp"}, ""},
		{Config{Host: "host", Path: "dir"}, "ssh", []string{"host", "-s", "sftp"}, ""},
		{Config{Host: "host", Port: "10022", Path: "/dir"}, "ssh", []string{"host", "-p", "10022", "-s", "sftp"}, ""},
		{Config{User: "user", Host: "host", Port: "10022", Path: "/dir"}, "ssh", []string{"host", "-p", "10022", "-l", "user", "-s", "sftp"}, ""},
		{Config{User: "user", Host: "host", Port: "10022", Args: "-i /path/to/id_rsa -o 'ProxyJump jump host'"}, "ssh",
			[]string{"host", "-p", "10022", "-l", "user", "-i", "/path/to/id_rsa", "-o", "ProxyJump jump host", "-s", "sftp"}, ""},
		{Config{User: "user", Host: "::1%lo0", Port: "22"}, "ssh", []string{"::1%lo0", "-p", "22", "-l", "user", "-s", "sftp"}, ""},
		// restic's splitting: quotes group, a backslash separates words
		{Config{Host: "ignored", User: "ignored", Command: `ssh -F "/my dir/cfg" backup\ host -s sftp`}, "ssh",
			[]string{"-F", "/my dir/cfg", "backup", "host", "-s", "sftp"}, ""},
		{Config{Command: "/usr/lib/openssh/sftp-server"}, "/usr/lib/openssh/sftp-server", []string{}, ""},
		{Config{Command: "ssh something", Args: "-i key"}, "", nil, "cannot specify both sftp.command and sftp.args options"},
		{Config{Command: "   "}, "", nil, "command string is empty"},
		{Config{Command: "ssh 'unterminated"}, "", nil, "single-quoted string not terminated"},
		{Config{Host: "h", Args: `-o "x`}, "", nil, "double-quoted string not terminated"},
	}
	for _, tc := range tests {
		program, args, err := tc.cfg.command()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.err)
			}
			continue
		}
		if err != nil || program != tc.program || !slices.Equal(args, tc.args) {
			t.Errorf("%+v: %q %q (%v), want %q %q", tc.cfg, program, args, err, tc.program, tc.args)
		}
	}
}

func TestApplyOptions(t *testing.T) {
	l := &location.SFTPConfig{User: "u", Host: "h", Port: "2222", Path: "/repo", Connections: 5}
	cfg := ConfigFromLocation(l)
	err := cfg.ApplyOptions(map[string]string{
		"sftp.command":     "ssh -F cfg h -s sftp",
		"sftp.connections": "12",
		"s3.connections":   "99", // another backend's option
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Command != "ssh -F cfg h -s sftp" || cfg.Connections != 12 || cfg.Path != "/repo" || cfg.User != "u" {
		t.Errorf("config after options: %+v", cfg)
	}
	if cfg.String() != "sftp://u@h:2222//repo" {
		t.Errorf("String() = %q", cfg.String())
	}
	if err := cfg.ApplyOptions(map[string]string{"sftp.args": "-v"}); err != nil || cfg.Args != "-v" {
		t.Errorf("sftp.args: %v, %+v", err, cfg)
	}
	for _, bad := range []map[string]string{
		{"sftp.connections": "0"},
		{"sftp.connections": "many"},
		{"sftp.nonsense": "1"},
	} {
		if err := cfg.ApplyOptions(bad); err == nil {
			t.Errorf("ApplyOptions(%v) succeeded", bad)
		}
	}
	if s := (Config{User: "u", Host: "h", Path: "rel/dir"}).String(); s != "sftp:u@h:rel/dir" {
		t.Errorf("String() = %q", s)
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateManPagesMatchRestic writes the man pages with both programs:
// every command both have gets the same page, byte for byte, except the
// pages whose text arca changes on purpose.
func TestGenerateManPagesMatchRestic(t *testing.T) {
	want, got := t.TempDir(), t.TempDir()
	mustRestic(t, nil, "generate", "--man", want)
	if out, stderr, code := arcaCmd(t, "generate", "--man", got); code != 0 || out != "writing man pages to directory "+got+"\n" {
		t.Fatalf("arca generate --man: exit %d\n%s%s", code, out, stderr)
	}
	// arca's own words: the root page, unlock (self-expiring locks), the
	// version text, repair's list of subcommands, and the descriptions of
	// migrate and features (written anew; their flags and exit codes agree)
	differ := map[string]bool{"restic.1": true, "restic-unlock.1": true, "restic-version.1": true, "restic-repair.1": true,
		"restic-migrate.1": true, "restic-features.1": true}
	pages, err := os.ReadDir(got)
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for _, p := range pages {
		w, err := os.ReadFile(filepath.Join(want, p.Name()))
		if err != nil {
			continue // a command restic does not have (locks)
		}
		g, _ := os.ReadFile(filepath.Join(got, p.Name()))
		if differ[p.Name()] {
			continue
		}
		if string(g) != string(w) {
			t.Errorf("%s differs from restic's", p.Name())
		}
		same++
	}
	if same < 20 {
		t.Fatalf("only %d man pages compared", same)
	}
}

func TestGenerateCompletions(t *testing.T) {
	dir := t.TempDir()
	zsh := filepath.Join(dir, "_restic")
	out, stderr, code := arcaCmd(t, "generate", "--bash-completion", "-", "--zsh-completion", zsh)
	if code != 0 || !strings.Contains(out, "# bash completion for restic") {
		t.Fatalf("bash completion: exit %d\n%.200s\n%s", code, out, stderr)
	}
	if buf, err := os.ReadFile(zsh); err != nil || !strings.Contains(string(buf), "#compdef restic") {
		t.Fatalf("zsh completion file: %v\n%.200s", err, buf)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"generate"}, "nothing to do, please specify at least one output file/dir"},
		{[]string{"generate", "--bash-completion", "-", "--fish-completion", "-"}, "for single shell only"},
		{[]string{"generate", "extra"}, "expects no arguments"},
	} {
		_, stderr, code := arcaCmd(t, tc.args...)
		_, rstderr, rcode := runRestic(t, nil, tc.args...)
		if code != 1 || rcode != 1 || !strings.Contains(stderr, tc.msg) || !strings.Contains(string(rstderr), tc.msg) {
			t.Errorf("%v: arca exit %d %q, restic exit %d %q", tc.args, code, stderr, rcode, rstderr)
		}
	}
}

// Writing bash completion leaves the commands' argument lists as they
// were: cobra sorts ValidArgs in place, and a later cat or list in the
// same process (an embedding program, these tests) must still name the
// types in restic's order.
func TestGenerateCompletionKeepsArgumentOrder(t *testing.T) {
	if _, stderr, code := arcaCmd(t, "generate", "--bash-completion", "-"); code != 0 {
		t.Fatalf("bash completion: exit %d\n%s", code, stderr)
	}
	_, stderr, _ := arcaCmd(t, "cat", "foo")
	if want := "[config|index|snapshot|key|masterkey|lock|pack|blob|tree]"; !strings.Contains(stderr, want) {
		t.Errorf("cat foo after writing completion: %q, want the types as %s", stderr, want)
	}
	out, _, _ := arcaCmd(t, "list", "--help")
	if want := "list [flags] [blobs|packs|index|snapshots|keys|locks]"; !strings.Contains(out, want) {
		t.Errorf("list --help after writing completion does not show %q:\n%s", want, out)
	}
}

// TestRootHelpGroupsCommands compares the sections of the root help:
// every command both programs have is listed under the same heading
// ("Available Commands:", "Advanced Options:", "Additional Commands:").
func TestRootHelpGroupsCommands(t *testing.T) {
	out, stderr, code := arcaCmd(t, "--help")
	if code != 0 {
		t.Fatalf("arca --help: exit %d\n%s", code, stderr)
	}
	rout, _, rcode := runRestic(t, nil, "--help")
	if rcode != 0 {
		t.Fatalf("restic --help: exit %d", rcode)
	}
	got, want := helpSections(out), helpSections(string(rout))
	compared := 0
	for name, section := range want {
		if name == "mount" {
			continue // not in arca
		}
		if got[name] != section {
			t.Errorf("%s is under %q, restic lists it under %q", name, got[name], section)
		}
		compared++
	}
	if compared < 25 || want["options"] != "Advanced Options:" || want["version"] != "Additional Commands:" {
		t.Fatalf("restic's help read wrongly (%d commands): %v", compared, want)
	}
}

// helpSections maps each command named in a root help text to the
// heading it is listed under.
func helpSections(help string) map[string]string {
	sections := map[string]string{}
	heading := ""
	for _, line := range strings.Split(help, "\n") {
		switch {
		case strings.HasSuffix(line, "Commands:") || strings.HasSuffix(line, "Options:"):
			heading = line
		case line == "" || !strings.HasPrefix(line, "  "):
			heading = ""
		case heading != "":
			sections[strings.Fields(line)[0]] = heading
		}
	}
	return sections
}

// TestCommandHelpMatchesRestic compares every command's --help with
// restic's, byte for byte, except the commands whose description arca
// words anew (as in TestGenerateManPagesMatchRestic).
func TestCommandHelpMatchesRestic(t *testing.T) {
	commands := []string{"backup", "cache", "cat", "check", "copy", "diff", "dump", "find", "forget", "init",
		"key", "key add", "key list", "key passwd", "key remove", "list", "ls", "prune", "recover", "repair",
		"repair index", "repair packs", "repair snapshots", "restore", "rewrite", "snapshots", "stats", "tag",
		"options", "generate"}
	for _, c := range commands {
		args := append(strings.Fields(c), "--help")
		got, stderr, code := arcaCmd(t, args...)
		want, _, rcode := runRestic(t, nil, args...)
		if code != 0 || rcode != 0 {
			t.Errorf("%s --help: arca exit %d %s, restic exit %d", c, code, stderr, rcode)
			continue
		}
		if got != string(want) {
			t.Errorf("%s --help differs from restic's:\n%s\nrestic:\n%s", c, got, want)
		}
	}
}

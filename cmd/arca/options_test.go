package main

import (
	"strings"
	"testing"
)

// TestOptionsAreRestics: every extended option arca lists is listed by
// restic with the same line, and -o values are parsed as restic parses
// them, with its words for those it refuses.
func TestOptionsAreRestics(t *testing.T) {
	want := strings.Split(string(mustRestic(t, nil, "options")), "\n")
	got, _, code := arcaCmd(t, "options")
	if code != 0 {
		t.Fatalf("arca options: exit %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) < 2 || lines[0] != "All Extended Options:" {
		t.Fatalf("arca options:\n%s", got)
	}
	for _, l := range lines[1:] {
		found := false
		for _, w := range want {
			found = found || w == l
		}
		if !found {
			t.Errorf("restic does not list %q", l)
		}
	}

	fx := resticRepoFixture(t, resticRepoOptions{Version: 2, Snapshots: 1})
	pw := passwordFile(t, fx.Password)
	args := []string{"-r", fx.Repo, "-p", pw, "--no-lock", "-o", "local.foo=1", "snapshots"}
	// restic's parsing: a key alone is an empty value, an empty key is
	// refused, so is a key given twice with different values
	for _, opts := range [][]string{{"local.foo=1"}, {"=x"}, {"a=1", "a=2"}, {"a=1", "A= 1"}, {"local.connections"}} {
		args := []string{"-r", fx.Repo, "-p", pw, "--no-lock"}
		for _, o := range opts {
			args = append(args, "-o", o)
		}
		args = append(args, "snapshots")
		rout, rerr, rcode := runRestic(t, nil, args...)
		aout, aerr, acode := arcaCmd(t, args...)
		if acode != rcode || aerr != string(rerr) || aout != string(rout) {
			t.Errorf("-o %q: restic exit %d %q %q, arca exit %d %q %q", opts, rcode, rout, rerr, acode, aout, aerr)
		}
	}
	args[6] = "local.connections=1"
	if out, stderr, code := arcaCmd(t, args...); code != 0 || !strings.Contains(out, "1 snapshots") {
		t.Errorf("-o local.connections=1: exit %d\n%s%s", code, out, stderr)
	}
}

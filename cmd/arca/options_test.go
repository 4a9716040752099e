package main

import (
	"strings"
	"testing"
)

// TestOptionsAreRestics: every extended option arca lists is listed by
// restic with the same line, and an unknown local option is refused in
// restic's words.
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
	_, rerr, rcode := runRestic(t, nil, args...)
	_, aerr, acode := arcaCmd(t, args...)
	if acode != rcode || aerr != string(rerr) {
		t.Errorf("unknown option: restic exit %d %q, arca exit %d %q", rcode, rerr, acode, aerr)
	}
	args[6] = "local.connections=1"
	if out, stderr, code := arcaCmd(t, args...); code != 0 || !strings.Contains(out, "1 snapshots") {
		t.Errorf("-o local.connections=1: exit %d\n%s%s", code, out, stderr)
	}
}

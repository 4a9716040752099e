package main

import (
	"strings"
	"testing"
)

// TestForgetPruneMatchesRestic runs forget --prune (and its dry run) with
// arca and restic on copies of one repository: the output must be the
// same, and restic must accept arca's result and read back the snapshots
// that were kept.
func TestForgetPruneMatchesRestic(t *testing.T) {
	base := sharedPruneRepo(t, pruneRepoOptions{version: 2, compression: "auto", forget: []int{}})
	for _, dry := range []bool{true, false} {
		name := "prune"
		args := []string{"forget", "--group-by", "host", "--keep-last", "3", "--prune", "--max-unused", "0"}
		if dry {
			name = "dry-run"
			args = append(args, "--dry-run")
		}
		t.Run(name, func(t *testing.T) {
			a, r := base.clone(t), base.clone(t)
			got := a.mustArca(t, args...)
			want, stderr, code := runRestic(t, r.env(), args...)
			if code != 0 {
				t.Fatalf("restic %v: exit %d\n%s", args, code, stderr)
			}
			if g, w := normalizePruneOutput(got), normalizePruneOutput(string(want)); g != w {
				t.Errorf("output differs\nrestic:\n%s\narca:\n%s", w, g)
			}
			if !strings.Contains(got, "running prune") {
				t.Fatalf("forget did not hand over to prune:\n%s", got)
			}
			a.check(t)
			if dry {
				if a.packCount(t) != base.packCount(t) {
					t.Error("the dry run changed the packs")
				}
				return
			}
			if a.packCount(t) != r.packCount(t) {
				t.Errorf("packs after forget --prune: arca %d, restic %d", a.packCount(t), r.packCount(t))
			}
			a.gens = a.gens[len(a.gens)-3:]
			a.verifyRestores(t, false)
		})
	}
}

package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRepairIndexInterop runs restic's and arca's repair index on identical
// copies of damaged restic repositories: the output must be the same, and
// restic check must judge both results alike (passing --read-data where
// restic's own repair makes it pass).
func TestRepairIndexInterop(t *testing.T) {
	resticBin(t)
	t.Parallel()
	f := resticRepoFixture(t, resticRepoOptions{Version: 2, Compression: "auto", Snapshots: 4})
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string, p checkRepoPacks)
		args   []string
		// healed: restic check --read-data passes after the repair (no
		// data was lost)
		healed bool
	}{
		{"index file removed", func(t *testing.T, dir string, p checkRepoPacks) {
			if err := os.Remove(filepath.Join(dir, "index", p.indexOf[p.tree[0]].String())); err != nil {
				t.Fatal(err)
			}
		}, nil, true},
		{"all index files removed, read all packs", func(t *testing.T, dir string, p checkRepoPacks) {
			for id := range p.files {
				if err := os.Remove(filepath.Join(dir, "index", id.String())); err != nil {
					t.Fatal(err)
				}
			}
		}, []string{"--read-all-packs"}, true},
		{"damaged index file and missing pack", func(t *testing.T, dir string, p checkRepoPacks) {
			flipByte(t, filepath.Join(dir, "index", p.indexOf[p.data[0]].String()), 40)
			if err := os.Remove(packPath(dir, p.data[len(p.data)-1])); err != nil {
				t.Fatal(err)
			}
		}, []string{"-v"}, false},
		{"pack truncated", func(t *testing.T, dir string, p checkRepoPacks) {
			truncateFile(t, packPath(dir, p.data[0]), 1000)
		}, []string{"-v"}, false},
		{"healthy", func(*testing.T, string, checkRepoPacks) {}, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resticDir := checkCopy(t, f.Repo)
			p := readCheckRepoPacks(t, resticDir, f.Password)
			c.damage(t, resticDir, p)
			arcaDir := copyDir(t, resticDir)
			rr, ar := newInteropRepo(t, resticDir, f.Password), newInteropRepo(t, arcaDir, f.Password)

			args := append([]string{"repair", "index"}, c.args...)
			want := rr.restic(t, args...)
			got := ar.arca(t, args...)
			compareCheck(t, args, want, got, true)

			// restic judges both repairs alike
			for _, checkArgs := range [][]string{{"check", "--read-data"}} {
				afterRestic := rr.restic(t, checkArgs...)
				afterArca := ar.restic(t, checkArgs...)
				if afterRestic.exit != afterArca.exit {
					t.Errorf("restic %v after restic's repair: exit %d; after arca's: exit %d\n%s", checkArgs, afterRestic.exit, afterArca.exit, afterArca.stderr)
				}
				if c.healed && afterArca.exit != 0 {
					t.Errorf("restic %v fails after arca's repair:\n%s", checkArgs, afterArca.stderr)
				}
				compareCheck(t, checkArgs, afterRestic, afterArca, true)
			}
		})
	}
}

package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// snapshotsJSON is the part of `snapshots --json` the copy tests compare.
type copySnapshotJSON struct {
	ID       string   `json:"id"`
	Time     string   `json:"time"`
	Tree     string   `json:"tree"`
	Paths    []string `json:"paths"`
	Hostname string   `json:"hostname"`
	Tags     []string `json:"tags"`
	Parent   string   `json:"parent"`
	Original string   `json:"original"`
}

func copySnapshots(t *testing.T, env []string) []copySnapshotJSON {
	t.Helper()
	var out []copySnapshotJSON
	if err := json.Unmarshal(mustRestic(t, env, "snapshots", "--json"), &out); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b copySnapshotJSON) int { return strings.Compare(a.Time+a.ID, b.Time+b.ID) })
	return out
}

// newCopyDestination makes an empty repository with restic.
func newCopyDestination(t *testing.T, version string) (repo string, env []string) {
	t.Helper()
	repo = filepath.Join(t.TempDir(), "dst")
	env = resticTestEnv(repo, "copy-dst-pw")
	mustRestic(t, env, "init", "--repository-version", version)
	if err := cheapenKey(repo, "copy-dst-pw"); err != nil {
		t.Fatal(err)
	}
	return repo, env
}

var (
	copyDuration = regexp.MustCompile(`(?m)^\[\d+:\d\d\] `)
	// how many packs a snapshot needs depends on what was copied before
	// it, and restic copies in no fixed order
	copyPackCount = regexp.MustCompile(`(?m)\d+ / \d+ packs copied$`)
)

var savedLine = regexp.MustCompile(`(?m)^snapshot ([0-9a-f]{8}) saved, copied from source snapshot ([0-9a-f]{8})$`)

// normalizeCopyOutput masks the IDs of the new snapshots (their files are
// encrypted with random IVs) and sorts the lines: restic copies snapshots
// in no fixed order.
func normalizeCopyOutput(s string) []string {
	s = savedLine.ReplaceAllString(s, "snapshot NEWID saved, copied from source snapshot $2")
	s = copyDuration.ReplaceAllString(s, "[TIME] ")
	s = copyPackCount.ReplaceAllString(s, "N / N packs copied")
	lines := strings.Split(s, "\n")
	slices.Sort(lines)
	return lines
}

func TestCopyInterop(t *testing.T) {
	fx := resticRepoFixture(t, resticRepoOptions{Version: 2, Snapshots: 3})
	srcPw := passwordFile(t, fx.Password)
	srcSnaps := copySnapshots(t, fx.Env())

	for _, version := range []string{"2", "1"} {
		t.Run("v"+version, func(t *testing.T) {
			arcaDst, arcaEnv := newCopyDestination(t, version)
			resticDst, resticEnv := newCopyDestination(t, version)
			dstPw := passwordFile(t, "copy-dst-pw")
			args := []string{"copy", "--from-repo", fx.Repo, "--from-password-file", srcPw, "-p", dstPw}

			got, stderr, code := arcaCmd(t, append([]string{"-r", arcaDst}, args...)...)
			if code != 0 {
				t.Fatalf("arca copy: exit %d\n%s", code, stderr)
			}
			want := mustRestic(t, nil, append([]string{"-r", resticDst}, args...)...)
			if g, w := normalizeCopyOutput(got), normalizeCopyOutput(string(want)); !slices.Equal(g, w) {
				t.Errorf("output differs\nrestic:\n%s\narca:\n%s", want, got)
			}
			if n := len(savedLine.FindAllString(got, -1)); n != len(srcSnaps) {
				t.Fatalf("arca copied %d snapshots, want %d", n, len(srcSnaps))
			}

			mustRestic(t, arcaEnv, "check", "--read-data")
			copied := copySnapshots(t, arcaEnv)
			byRestic := copySnapshots(t, resticEnv)
			if len(copied) != len(srcSnaps) || len(byRestic) != len(srcSnaps) {
				t.Fatalf("snapshots in destination: arca %d, restic %d, want %d", len(copied), len(byRestic), len(srcSnaps))
			}
			for i, c := range copied {
				s, r := srcSnaps[i], byRestic[i]
				if c.Original != s.ID || c.Tree != s.Tree || c.Time != s.Time || c.Parent != "" ||
					!slices.Equal(c.Paths, s.Paths) || !slices.Equal(c.Tags, s.Tags) || c.Hostname != s.Hostname {
					t.Errorf("copy of %s: %+v\nsource: %+v", s.ID[:8], c, s)
				}
				if c.Tree != r.Tree || c.Original != r.Original {
					t.Errorf("arca's copy %+v differs from restic's %+v", c, r)
				}
			}
			// the copied data restores to the source tree
			target := t.TempDir()
			mustRestic(t, arcaEnv, "restore", "latest", "--target", target)
			compareTrees(t, fx.Source, filepath.Join(target, "src"), compareOptions{})

			// both programs see the other's copies as done
			again, _, code := arcaCmd(t, append([]string{"-r", resticDst}, args...)...)
			if code != 0 || strings.Contains(again, "copy started") {
				t.Errorf("arca copied again into restic's copy: exit %d\n%s", code, again)
			}
			if out := mustRestic(t, nil, append([]string{"-r", arcaDst}, args...)...); strings.Contains(string(out), "copy started") {
				t.Errorf("restic copied again into arca's copy:\n%s", out)
			}
			if n := len(copySnapshots(t, arcaEnv)); n != len(srcSnaps) {
				t.Errorf("%d snapshots after copying twice, want %d", n, len(srcSnaps))
			}
		})
	}
}

// TestCopySelection copies one named snapshot with the older --repo2
// options (the repository given by -r is then the source), then the rest
// with a host filter that matches nothing and then everything.
func TestCopySelection(t *testing.T) {
	fx := resticRepoFixture(t, resticRepoOptions{Version: 2, Snapshots: 3})
	srcSnaps := copySnapshots(t, fx.Env())
	dst, dstEnv := newCopyDestination(t, "2")
	srcPw := passwordFile(t, fx.Password)
	dstPw := passwordFile(t, "copy-dst-pw")
	base := []string{"-r", fx.Repo, "-p", srcPw, "copy", "--repo2", dst, "--password-file2", dstPw}

	out, stderr, code := arcaCmd(t, append(base, srcSnaps[0].ID[:8])...)
	if code != 0 || len(savedLine.FindAllString(out, -1)) != 1 {
		t.Fatalf("copy of one snapshot: exit %d\n%s\n%s", code, out, stderr)
	}
	if got := copySnapshots(t, dstEnv); len(got) != 1 || got[0].Original != srcSnaps[0].ID {
		t.Fatalf("destination holds %+v", got)
	}
	out, _, code = arcaCmd(t, append(base, "--host", "no-such-host")...)
	if code != 0 || out != "" {
		t.Fatalf("copy with a host that matches nothing: exit %d\n%q", code, out)
	}
	sameHost := 0
	for _, sn := range srcSnaps {
		if sn.Hostname == srcSnaps[0].Hostname {
			sameHost++
		}
	}
	out, _, code = arcaCmd(t, append(base, "--host", srcSnaps[0].Hostname, "-v")...)
	if code != 0 || len(savedLine.FindAllString(out, -1)) != sameHost-1 {
		t.Fatalf("copy of the rest: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "skipping source snapshot "+srcSnaps[0].ID[:8]+", was already copied to snapshot ") {
		t.Errorf("no note about the skipped snapshot with -v:\n%s", out)
	}
	mustRestic(t, dstEnv, "check", "--read-data")
	if got := copySnapshots(t, dstEnv); len(got) != sameHost {
		t.Fatalf("destination holds %d snapshots, want %d", len(got), sameHost)
	}
}

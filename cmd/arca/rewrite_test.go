package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
)

// rewritePair is a fixture repository copied twice: one copy for arca, one
// for restic, so both run the same command on the same data.
type rewritePair struct {
	arcaRepo, resticRepo string
	arcaEnv, resticEnv   []string
	pwFile               string
	initialIDs           []string // snapshot IDs of the fixture
}

func newRewritePair(t *testing.T, fx *resticFixture) *rewritePair {
	t.Helper()
	p := &rewritePair{arcaRepo: copyDir(t, fx.Repo), resticRepo: copyDir(t, fx.Repo), pwFile: passwordFile(t, fx.Password)}
	p.arcaEnv = resticTestEnv(p.arcaRepo, fx.Password)
	p.resticEnv = resticTestEnv(p.resticRepo, fx.Password)
	p.initialIDs = rewriteSnapshotIDs(t, fx.Env())
	return p
}

// run runs args with arca on one copy and restic on the other and returns
// both results.
func (p *rewritePair) run(t *testing.T, args ...string) (arcaOut, arcaErr string, arcaCode int, resticOut, resticErr string, resticCode int) {
	t.Helper()
	arcaOut, arcaErr, arcaCode = arcaCmd(t, append([]string{"-r", p.arcaRepo, "-p", p.pwFile}, args...)...)
	o, e, c := runRestic(t, p.resticEnv, args...)
	return arcaOut, arcaErr, arcaCode, string(o), string(e), c
}

// same runs args with both programs, wants both to succeed with the same
// output (new snapshot IDs masked, per-snapshot blocks sorted) and the
// same snapshots in both repositories.
func (p *rewritePair) same(t *testing.T, args ...string) string {
	t.Helper()
	ao, ae, ac, ro, re, rc := p.run(t, args...)
	if ac != 0 || rc != 0 {
		t.Fatalf("%v: arca exit %d, restic exit %d\narca:\n%s%s\nrestic:\n%s%s", args, ac, rc, ao, ae, ro, re)
	}
	if a, r := normalizeRewriteOutput(ao, p.initialIDs), normalizeRewriteOutput(ro, p.initialIDs); !slices.Equal(a, r) {
		t.Errorf("%v: output differs\narca:\n%s\nrestic:\n%s", args, ao, ro)
	}
	if ae != re {
		t.Errorf("%v: stderr differs\narca:\n%s\nrestic:\n%s", args, ae, re)
	}
	p.sameSnapshots(t)
	return ao
}

// sameSnapshots compares the snapshots of both repositories, all fields but
// the IDs (new snapshot files differ by their random IVs).
func (p *rewritePair) sameSnapshots(t *testing.T) {
	t.Helper()
	a, r := rewriteSnapshotList(t, p.arcaEnv, p.initialIDs), rewriteSnapshotList(t, p.resticEnv, p.initialIDs)
	if !slices.Equal(a, r) {
		t.Errorf("snapshots differ\narca:\n  %s\nrestic:\n  %s", strings.Join(a, "\n  "), strings.Join(r, "\n  "))
	}
}

// rewriteSnapshotList is `snapshots --json` without IDs, one JSON object a
// line, sorted. An original that is not one of known is masked: it is a
// snapshot made by an earlier rewrite, whose ID differs between the
// repositories.
func rewriteSnapshotList(t *testing.T, env []string, known []string) []string {
	t.Helper()
	var list []map[string]any
	if err := json.Unmarshal(mustRestic(t, env, "snapshots", "--json"), &list); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, sn := range list {
		delete(sn, "id")
		delete(sn, "short_id")
		if o, ok := sn["original"].(string); ok && !slices.Contains(known, o) {
			sn["original"] = "NEW"
		}
		b, err := json.Marshal(sn)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

var rewriteShortID = regexp.MustCompile(`\b[0-9a-f]{8}\b`)

// normalizeRewriteOutput masks the IDs of snapshots made by the test
// (known are the fixture's) and sorts the blank-line separated blocks
// (one per snapshot): restic handles snapshots in the order the backend
// lists them.
func normalizeRewriteOutput(s string, known []string) []string {
	s = rewriteShortID.ReplaceAllStringFunc(s, func(id string) string {
		for _, k := range known {
			if strings.HasPrefix(k, id) {
				return id
			}
		}
		return "NEWID"
	})
	var blocks []string
	for _, b := range strings.Split(s, "\n\n") {
		blocks = append(blocks, strings.Trim(b, "\n"))
	}
	slices.Sort(blocks)
	return blocks
}

func rewriteSnapshotIDs(t *testing.T, env []string, args ...string) []string {
	t.Helper()
	var ids []string
	for _, sn := range resticSnapshots(t, env, args...) {
		ids = append(ids, sn.ID)
	}
	return ids
}

// TestRewriteExcludeInterop removes files by pattern from every snapshot:
// arca's new trees have restic's IDs, the summary counts what is left,
// restic check --read-data passes and the rewritten snapshot restores to
// the source minus the excluded files.
func TestRewriteExcludeInterop(t *testing.T) {
	fx := resticRepoFixture(t, resticRepoOptions{Version: 2, Snapshots: 3})
	p := newRewritePair(t, fx)
	out := p.same(t, "rewrite", "-vv", "--exclude", "*.txt", "--iexclude", "/SRC/MANY", "--exclude", "/src/hardlinks/sub")
	for _, want := range []string{`excluding "/src/text/hello.txt"`, `excluding "/src/many"`, "modified 3 snapshots"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := len(rewriteSnapshotList(t, p.arcaEnv, nil)); n != 6 {
		t.Errorf("%d snapshots after rewrite, want 6", n)
	}
	mustRestic(t, p.arcaEnv, "check", "--read-data")

	target := t.TempDir()
	mustRestic(t, p.arcaEnv, "restore", "latest", "--tag", "rewrite", "--target", target)
	compareTrees(t, fx.Source, filepath.Join(target, "src"), compareOptions{Skip: func(rel string) bool {
		return strings.HasSuffix(rel, ".txt") || rel == "many" || rel == "hardlinks/sub"
	}, IgnoreHardlinks: true})
	if _, err := os.Stat(filepath.Join(target, "src", "text", "hello.txt")); !os.IsNotExist(err) {
		t.Errorf("excluded file was restored: %v", err)
	}

	// rewriting the rewritten snapshots again with the same patterns changes nothing
	p.same(t, "rewrite", "--tag", "rewrite", "--exclude", "*.txt", "--iexclude", "/SRC/MANY", "--exclude", "/src/hardlinks/sub")
}

// TestRewriteIncludeInterop keeps only what include patterns select,
// patterns given directly and from files, case-insensitively too.
func TestRewriteIncludeInterop(t *testing.T) {
	fx := resticRepoFixture(t, resticRepoOptions{Version: 2, Snapshots: 3})
	p := newRewritePair(t, fx)
	patterns := filepath.Join(t.TempDir(), "include")
	if err := os.WriteFile(patterns, []byte("# comment\n/src/modes/*.txt\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ids := rewriteSnapshotIDs(t, fx.Env())
	out := p.same(t, "rewrite", "-vv", "--include", "/src/text", "--iinclude", "*.LOG", "--include-file", patterns, "--include", "/src/emptydir", ids[0], ids[2])
	for _, want := range []string{`including "/src/text/hello.txt"`, `including directory "/src/emptydir"`, "modified 2 snapshots"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	mustRestic(t, p.arcaEnv, "check")
	target := t.TempDir()
	mustRestic(t, p.arcaEnv, "restore", "latest", "--tag", "rewrite", "--target", target)
	compareTrees(t, fx.Source, filepath.Join(target, "src"), compareOptions{Skip: func(rel string) bool {
		switch {
		case rel == "." || rel == "text" || strings.HasPrefix(rel, "text/") || rel == "emptydir" || strings.HasSuffix(rel, ".log"):
			return false
		case rel == "modes":
			return false
		case strings.HasPrefix(rel, "modes/"):
			return !strings.HasSuffix(rel, ".txt") || strings.Count(rel, "/") > 1
		}
		return true
	}})

	// an include that matches nothing leaves the snapshots alone
	p.same(t, "rewrite", "--include", "/does-not-exist")
}

// TestRewriteMetadataInterop changes host and time of a selected snapshot,
// with and without --forget, and adds summaries to a snapshot lacking one.
func TestRewriteMetadataInterop(t *testing.T) {
	fx := resticRepoFixture(t, resticRepoOptions{Version: 2, Snapshots: 3})
	p := newRewritePair(t, fx)

	p.same(t, "rewrite", "--tag", "manual", "--new-host", "other-host", "--new-time", "2025-06-07 08:09:10")
	out := p.same(t, "rewrite", "--host", "arca-host-a", "--tag", "weekly", "--forget", "--new-host", "third")
	if !strings.HasPrefix(out, "create exclusive lock for repository\n") || !strings.Contains(out, "removed old snapshot") {
		t.Errorf("unexpected output:\n%s", out)
	}
	// the summary of restic's backup already counts the same files
	p.same(t, "rewrite", "--snapshot-summary")
	// a snapshot without summary gets one with the two counts
	for _, dir := range []string{p.arcaRepo, p.resticRepo} {
		stripSummaries(t, dir, fx.Password)
	}
	out = p.same(t, "rewrite", "--snapshot-summary", "--tag", "daily")
	if !strings.Contains(out, "modified 2 snapshots") {
		t.Errorf("unexpected output:\n%s", out)
	}
	if list := strings.Join(rewriteSnapshotList(t, p.arcaEnv, nil), "\n"); !strings.Contains(list, `"summary":{"backup_end":"0001-01-01T00:00:00Z","backup_start":"0001-01-01T00:00:00Z","data_added":0`) {
		t.Errorf("no new summary:\n%s", list)
	}
	p.same(t, "rewrite", "-s", "--exclude", "/src/random.bin", "--forget")
	mustRestic(t, p.arcaEnv, "check")
}

// TestRewriteDryRunInterop prints what would be done and changes nothing.
func TestRewriteDryRunInterop(t *testing.T) {
	fx := resticRepoFixture(t, resticRepoOptions{Version: 2, Snapshots: 3})
	p := newRewritePair(t, fx)
	before := rewriteSnapshotList(t, p.arcaEnv, nil)
	out := p.same(t, "rewrite", "-n", "--forget", "--new-time", "2025-06-07 08:09:10", "--new-host", "h", "--exclude", "*.txt")
	for _, want := range []string{"would save new snapshot\nwould remove old snapshot\nwould set time to 2025-06-07 08:09:10", "would set hostname to h", "would modify 3 snapshots"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	p.same(t, "rewrite", "--dry-run", "--exclude", "/nothing")
	if after := rewriteSnapshotList(t, p.arcaEnv, nil); !slices.Equal(before, after) {
		t.Errorf("dry run changed the snapshots")
	}
	// no pack, index or lock file was written
	for _, dir := range []string{"index", "locks", "snapshots"} {
		a, _ := os.ReadDir(filepath.Join(p.arcaRepo, dir))
		f, _ := os.ReadDir(filepath.Join(fx.Repo, dir))
		if len(a) != len(f) {
			t.Errorf("%s: %d files after the dry run, %d before", dir, len(a), len(f))
		}
	}
}

// TestRewriteErrors compares restic's usage errors.
func TestRewriteErrors(t *testing.T) {
	fx := resticRepoFixture(t, resticRepoOptions{Version: 2, Snapshots: 3})
	p := newRewritePair(t, fx)
	for _, args := range [][]string{
		{"rewrite"},
		{"rewrite", "--exclude", "a", "--include", "b"},
		{"rewrite", "--new-time", "yesterday", "latest"},
		{"rewrite", "--new-host", "x", "deadbeef", "latest:/src", "latest", "latest"},
		{"rewrite", "--new-host", "x", "--tag", "daily", "--exclude-file", "/does/not/exist", p.initialIDs[0][:8], p.initialIDs[0]},
		{"rewrite", "--new-host", "x", "--tag", "nothing", "latest"},
	} {
		ao, ae, ac, ro, re, rc := p.run(t, args...)
		if ac != rc || ae != re || !slices.Equal(normalizeRewriteOutput(ao, p.initialIDs), normalizeRewriteOutput(ro, p.initialIDs)) {
			t.Errorf("%v:\narca exit %d\n%s%s\nrestic exit %d\n%s%s", args, ac, ao, ae, rc, ro, re)
		}
	}
}

// TestRewriteLocks: rewrite takes restic's append lock, which --no-lock
// does not skip, an exclusive lock with --forget, and none with --dry-run;
// repair snapshots takes an exclusive lock. Exit codes are compared with
// restic's against a fresh lock of another host.
func TestRewriteLocks(t *testing.T) {
	fx := resticRepoFixture(t, resticRepoOptions{Version: 2, Snapshots: 1})
	for _, exclusive := range []bool{true, false} {
		p := newRewritePair(t, fx)
		for _, dir := range []string{p.arcaRepo, p.resticRepo} {
			writeForeignLock(t, dir, fx.Password, exclusive)
		}
		for _, c := range []struct {
			args []string
			want int // with an exclusive foreign lock; a shared one blocks only exclusive locks
			excl bool
		}{
			{[]string{"rewrite", "--new-host", "x"}, exitLocked, false},
			{[]string{"--no-lock", "rewrite", "--new-host", "x"}, exitLocked, false},
			{[]string{"rewrite", "--dry-run", "--new-host", "x"}, 0, false},
			{[]string{"rewrite", "--forget", "--new-host", "x"}, exitLocked, true},
			{[]string{"repair", "snapshots"}, exitLocked, true},
			{[]string{"repair", "snapshots", "-n"}, 0, false},
		} {
			want := c.want
			if !exclusive && !c.excl {
				want = 0
			}
			_, ae, ac, _, re, rc := p.run(t, c.args...)
			if ac != want || rc != want {
				t.Errorf("exclusive=%v %v: arca exit %d, restic exit %d, want %d\narca: %s\nrestic: %s", exclusive, c.args, ac, rc, want, ae, re)
			}
		}
	}
}

// writeForeignLock stores a fresh lock of another host in the repository.
func writeForeignLock(t *testing.T, dir, password string, exclusive bool) {
	t.Helper()
	ctx := context.Background()
	be, err := local.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	r, err := repo.Open(ctx, be, password, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lk := lock.Lock{Time: time.Now(), Exclusive: exclusive, Hostname: "some-other-host", Username: "backup", PID: 4242}
	buf, err := lk.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.SaveLock(ctx, buf); err != nil {
		t.Fatal(err)
	}
}

// stripSummaries replaces every snapshot by one without summary.
func stripSummaries(t *testing.T, dir, password string) {
	t.Helper()
	ctx := context.Background()
	be, err := local.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	r, err := repo.Open(ctx, be, password, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, sn := range snaps {
		old := sn.ID
		sn.Summary = nil
		if _, err := r.SaveSnapshot(ctx, sn); err != nil {
			t.Fatal(err)
		}
		if err := be.Remove(ctx, backend.Handle{Type: backend.SnapshotFile, Name: old.String()}); err != nil {
			t.Fatal(err)
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
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
	"github.com/arca-backup/arca/repo/index"
	"github.com/arca-backup/arca/repo/model"
)

// Acceptance tests for check: restic 0.19.1 and arca run the same check on
// the same repository, healthy or deliberately damaged, one after the
// other (both take an exclusive lock), and must agree on the exit code, on
// stdout and on which problems they name in stderr.

// checkRun runs check with args on r with restic, then arca.
func checkRun(t *testing.T, r interopRepo, args ...string) (want, got cmdResult) {
	t.Helper()
	want = r.restic(t, append([]string{"check"}, args...)...)
	got = r.arca(t, append([]string{"check"}, args...)...)
	return want, got
}

var (
	checkTempCache = regexp.MustCompile(`(?m)^using temporary cache in .*$`)
	checkElapsed   = regexp.MustCompile(`(?m)^\[\d+:\d\d(:\d\d)?\]`)
	// restic's backend prints retries of failed reads; they are not check's output
	checkRetryNoise = regexp.MustCompile(`(?m)^Load\(<[a-z]+/[0-9a-f]+>, \d+, \d+\) failed: .*\n`)
	// when a filtered check stops at an unloadable snapshot, restic may
	// also report the snapshots its parallel loader was reading as
	// cancelled (a race inside restic, so not always)
	checkCancelNoise = regexp.MustCompile(`(?m)^error: failed to load snapshot [0-9a-f]{8}: context canceled\n`)
)

// normalizeCheckOut drops what differs between runs: the temporary cache
// directory and elapsed times.
func normalizeCheckOut(s string) string {
	s = checkTempCache.ReplaceAllString(s, "using temporary cache in <tmp>")
	return checkElapsed.ReplaceAllString(s, "[t]")
}

// checkProblemKinds reduce a problem line to its kind and the file it names,
// where restic's wording of the underlying cause differs from arca's.
var checkProblemKinds = []struct {
	re   *regexp.Regexp
	kind string
}{
	{regexp.MustCompile(`^error: (error loading index [0-9a-f]{64}): .*(invalid data returned|does not match its name).*$`), "$1: damaged"},
	{regexp.MustCompile(`^error: (Error loading snapshot [0-9a-f]{8}: )?(failed to load snapshot [0-9a-f]{8}): .*(invalid data returned|does not match its name).*$`), "$1$2: damaged"},
	{regexp.MustCompile(`^download error: .*file is too short$`), "download error: too short"},
	{regexp.MustCompile(`^(removing invalid index [0-9a-f]{64}): .*(invalid data returned|does not match its name).*$`), "$1: damaged"},
	{regexp.MustCompile(`^  .*<data/([0-9a-f]{10})>.*no such file or directory$`), "  pack $1 missing"},
}

// checkStderrKinds normalizes stderr to problem kinds, one per line, sorted:
// both programs check in parallel, so the order of problems varies.
func checkStderrKinds(s string) []string {
	s = checkRetryNoise.ReplaceAllString(s, "")
	s = checkCancelNoise.ReplaceAllString(s, "")
	var out []string
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		var msg struct {
			MessageType string `json:"message_type"`
			Message     string `json:"message"`
		}
		if json.Unmarshal([]byte(line), &msg) == nil && msg.MessageType == "error" {
			// a --json error message: normalize the text it carries
			var parts []string
			for _, l := range strings.Split(msg.Message, "\n") {
				parts = append(parts, checkProblemKind(l))
			}
			out = append(out, "json error: "+strings.Join(parts, "\n"))
			continue
		}
		out = append(out, checkProblemKind(line))
	}
	slices.Sort(out)
	return out
}

func checkProblemKind(line string) string {
	for _, k := range checkProblemKinds {
		if k.re.MatchString(line) {
			return k.re.ReplaceAllString(line, k.kind)
		}
	}
	return line
}

// compareCheck requires the same exit code, the same stdout (exactly, or
// as sorted lines with unordered) and the same problem kinds in stderr.
func compareCheck(t *testing.T, args []string, want, got cmdResult, unordered bool) {
	t.Helper()
	name := strings.Join(append([]string{"check"}, args...), " ")
	if want.exit != got.exit {
		t.Errorf("%s: exit code: arca %d, restic %d\narca stderr:\n%s\nrestic stderr:\n%s", name, got.exit, want.exit, got.stderr, want.stderr)
	}
	wo, go_ := normalizeCheckOut(string(want.stdout)), normalizeCheckOut(string(got.stdout))
	if unordered {
		if sortedLines(wo) != sortedLines(go_) {
			t.Errorf("%s: stdout differs (as sorted lines)\n%s", name, lineDiff(wo, go_))
		}
	} else if wo != go_ {
		t.Errorf("%s: stdout differs\n%s", name, lineDiff(wo, go_))
	}
	wk, gk := checkStderrKinds(string(want.stderr)), checkStderrKinds(string(got.stderr))
	if !slices.Equal(wk, gk) {
		t.Errorf("%s: problems differ\n%s\nrestic stderr:\n%s\narca stderr:\n%s", name,
			lineDiff(strings.Join(wk, "\n"), strings.Join(gk, "\n")), want.stderr, got.stderr)
	}
}

// checkRepoPacks lists a repository's index: the packs holding each blob
// type, and for every pack the index file listing it.
type checkRepoPacks struct {
	data, tree []model.ID
	indexOf    map[model.ID]model.ID
	files      map[model.ID]*index.File
}

func readCheckRepoPacks(t *testing.T, dir, password string) checkRepoPacks {
	t.Helper()
	ctx := context.Background()
	r := openCheckRepo(t, dir, password)
	defer r.Close()
	p := checkRepoPacks{indexOf: map[model.ID]model.ID{}, files: map[model.ID]*index.File{}}
	err := r.ForEachIndexFile(ctx, nil, func(id model.ID, f *index.File, err error) error {
		if err != nil {
			return err
		}
		p.files[id] = f
		for _, pk := range f.Packs {
			p.indexOf[pk.ID] = id
			if pk.Blobs[0].Type == model.TreeBlob {
				p.tree = append(p.tree, pk.ID)
			} else {
				p.data = append(p.data, pk.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.data) == 0 || len(p.tree) == 0 {
		t.Fatalf("repository %s: want data and tree packs, got %d and %d", dir, len(p.data), len(p.tree))
	}
	sortIDs := func(ids []model.ID) {
		slices.SortFunc(ids, func(a, b model.ID) int { return strings.Compare(a.String(), b.String()) })
	}
	sortIDs(p.data)
	sortIDs(p.tree)
	return p
}

func openCheckRepo(t *testing.T, dir, password string) *repo.Repository {
	t.Helper()
	ctx := context.Background()
	be, err := local.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, be, password, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func packPath(dir string, id model.ID) string {
	return filepath.Join(dir, backend.Handle{Type: backend.PackFile, Name: id.String()}.Path())
}

// flipByte inverts one bit of a file at off (from the end when negative).
func flipByte(t *testing.T, p string, off int64) {
	t.Helper()
	buf, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += int64(len(buf))
	}
	buf[off] ^= 1
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf, 0o600); err != nil {
		t.Fatal(err)
	}
}

func truncateFile(t *testing.T, p string, size int64) {
	t.Helper()
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
}

// rewriteIndexWithout replaces the index file listing pack with one that
// lists the same packs but that one.
func rewriteIndexWithout(t *testing.T, dir, password string, p checkRepoPacks, pack model.ID) {
	t.Helper()
	ctx := context.Background()
	old := p.indexOf[pack]
	f := p.files[old]
	nf := &index.File{}
	for _, pk := range f.Packs {
		if pk.ID != pack {
			nf.Packs = append(nf.Packs, pk)
		}
	}
	buf, err := nf.Encode()
	if err != nil {
		t.Fatal(err)
	}
	r := openCheckRepo(t, dir, password)
	defer r.Close()
	if _, err := r.SaveUnpacked(ctx, backend.IndexFile, buf); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "index", old.String())); err != nil {
		t.Fatal(err)
	}
}

// checkDamageCase damages a copy of a repository and runs check on it.
type checkDamageCase struct {
	name   string
	damage func(t *testing.T, dir string, p checkRepoPacks)
	args   [][]string
	// wantExit is the exit code restic must give for each args (so the
	// damage is known to be one restic notices, or one it ignores)
	wantExit []int
	// wantStderr must appear in arca's stderr (the damaged file's name)
	wantStderr func(p checkRepoPacks) []string
	// alsoArca: run the case on the arca-written repository too (all
	// cases run on the restic-written one)
	alsoArca bool
}

func checkDamageCases(password string) []checkDamageCase {
	return []checkDamageCase{
		{
			name:     "flipped byte in data pack",
			alsoArca: true,
			damage:   func(t *testing.T, dir string, p checkRepoPacks) { flipByte(t, packPath(dir, p.data[0]), 100) },
			args:     [][]string{nil, {"--read-data"}, {"--read-data", "--json"}},
			wantExit: []int{0, 1, 1},
			wantStderr: func(p checkRepoPacks) []string {
				return []string{"pack " + p.data[0].String() + " contains", "restic repair packs " + p.data[0].String()}
			},
		},
		{
			name:       "flipped byte in tree pack",
			damage:     func(t *testing.T, dir string, p checkRepoPacks) { flipByte(t, packPath(dir, p.tree[0]), 20) },
			args:       [][]string{nil},
			wantExit:   []int{1},
			wantStderr: func(p checkRepoPacks) []string { return []string{"error for tree", p.tree[0].String()} },
		},
		{
			name: "missing data pack",
			damage: func(t *testing.T, dir string, p checkRepoPacks) {
				if err := os.Remove(packPath(dir, p.data[0])); err != nil {
					t.Fatal(err)
				}
			},
			args:     [][]string{nil, {"--json"}},
			wantExit: []int{1, 1},
			wantStderr: func(p checkRepoPacks) []string {
				return []string{"pack " + p.data[0].String() + ": does not exist"}
			},
		},
		{
			name:     "missing tree pack",
			alsoArca: true,
			damage: func(t *testing.T, dir string, p checkRepoPacks) {
				if err := os.Remove(packPath(dir, p.tree[0])); err != nil {
					t.Fatal(err)
				}
			},
			args:     [][]string{nil},
			wantExit: []int{1},
			wantStderr: func(p checkRepoPacks) []string {
				return []string{"pack " + p.tree[0].String() + ": does not exist", "error for tree"}
			},
		},
		{
			name: "index file removed",
			damage: func(t *testing.T, dir string, p checkRepoPacks) {
				if err := os.Remove(filepath.Join(dir, "index", p.indexOf[p.tree[0]].String())); err != nil {
					t.Fatal(err)
				}
			},
			args:       [][]string{nil, {"-v"}},
			wantExit:   []int{1, 1},
			wantStderr: func(p checkRepoPacks) []string { return []string{"not found in"} },
		},
		{
			name: "data pack missing from index",
			damage: func(t *testing.T, dir string, p checkRepoPacks) {
				rewriteIndexWithout(t, dir, password, p, p.data[0])
			},
			args:       [][]string{nil},
			wantExit:   []int{1},
			wantStderr: func(p checkRepoPacks) []string { return []string{"not found in index"} },
		},
		{
			name:     "tree pack missing from index",
			alsoArca: true,
			damage: func(t *testing.T, dir string, p checkRepoPacks) {
				rewriteIndexWithout(t, dir, password, p, p.tree[0])
			},
			args:       [][]string{{"-v"}, {"--read-data"}},
			wantExit:   []int{1, 1},
			wantStderr: func(p checkRepoPacks) []string { return []string{"not found in repository"} },
		},
		{
			name:     "truncated snapshot",
			alsoArca: true,
			damage: func(t *testing.T, dir string, p checkRepoPacks) {
				snaps, err := os.ReadDir(filepath.Join(dir, "snapshots"))
				if err != nil || len(snaps) == 0 {
					t.Fatalf("no snapshots: %v", err)
				}
				truncateFile(t, filepath.Join(dir, "snapshots", snaps[0].Name()), 100)
			},
			args:       [][]string{nil, {"--json"}, {"--tag", "daily"}, {"latest"}},
			wantExit:   []int{1, 1, 1, 1},
			wantStderr: func(p checkRepoPacks) []string { return []string{"failed to load snapshot"} },
		},
		{
			name: "damaged index file",
			damage: func(t *testing.T, dir string, p checkRepoPacks) {
				flipByte(t, filepath.Join(dir, "index", p.indexOf[p.data[0]].String()), 40)
			},
			args:     [][]string{nil, {"--json"}},
			wantExit: []int{1, 1},
			wantStderr: func(p checkRepoPacks) []string {
				return []string{"error loading index " + p.indexOf[p.data[0]].String(), "repair index"}
			},
		},
		{
			name: "truncated pack",
			damage: func(t *testing.T, dir string, p checkRepoPacks) {
				truncateFile(t, packPath(dir, p.data[0]), 1000)
			},
			args:     [][]string{nil, {"--read-data"}},
			wantExit: []int{1, 1},
			wantStderr: func(p checkRepoPacks) []string {
				return []string{"pack " + p.data[0].String() + ": unexpected file size: got 1000", "restic repair packs " + p.data[0].String()}
			},
		},
	}
}

// checkRepos are the repositories the check tests use: one written by
// restic, one by arca. The restic one is a private copy: check takes an
// exclusive lock, which would block other tests sharing the fixture.
func checkRepos(t *testing.T) map[string]interopRepo {
	t.Helper()
	f := resticRepoFixture(t, resticRepoOptions{Version: 2, Compression: "auto", Snapshots: 4})
	return map[string]interopRepo{
		"restic": newInteropRepo(t, checkCopy(t, f.Repo), f.Password),
		"arca":   arcaWrittenRepo(t),
	}
}

// checkCopy copies a repository for a test of its own, without the lock
// files of other tests that use the original at the same time (they may
// vanish while being copied, and an exclusive check would see them).
func checkCopy(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "repo")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir() && rel == "locks":
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
			return fs.SkipDir
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		}
		buf, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, buf, 0o600)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
	return dst
}

// arcaWrittenRepo makes a repository with arca: init, then two backups of
// the fixture tree (the second after a round of changes).
func arcaWrittenRepo(t *testing.T) interopRepo {
	t.Helper()
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	const password = "arca check password"
	pw := passwordFile(t, password)
	arcaInit(t, repoDir, pw)
	if err := cheapenKey(repoDir, password); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src")
	for gen := range 2 {
		if err := os.RemoveAll(src); err != nil {
			t.Fatal(err)
		}
		makeSourceTreeGeneration(t, src, gen)
		if _, errOut, exit := arcaCmd(t, "-r", repoDir, "-p", pw, "backup", "-q", "--host", "arca-check", src); exit != 0 {
			t.Fatalf("arca backup: exit %d: %s", exit, errOut)
		}
	}
	return newInteropRepo(t, repoDir, password)
}

// TestCheckHealthyInterop: on healthy repositories written by restic and by
// arca, check, check --read-data, the subsets, snapshot selections and
// --json give restic's exact output and exit code 0.
func TestCheckHealthyInterop(t *testing.T) {
	resticBin(t)
	t.Parallel()
	for name, r := range checkRepos(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cases := [][]string{nil, {"--read-data"}, {"--read-data", "--json"}}
			if name == "restic" {
				cases = append(cases,
					[]string{"--quiet", "--read-data"},
					[]string{"--read-data-subset", "1/3"},
					[]string{"--read-data-subset", "100%"},
					[]string{"--read-data-subset", "1T"},
					[]string{"--read-data", "latest"},
					[]string{"--read-data-subset", "2/2", "latest"},
					[]string{"--host", "arca-host-b", "--read-data"},
					[]string{"--host", "nohost"},
					[]string{"deadbeef"},
					[]string{"--read-data", "--read-data-subset", "1/2"},
					[]string{"--read-data-subset", "0/2"},
					[]string{"--read-data-subset", "1/257"},
					[]string{"--read-data-subset", "x"},
					[]string{"--read-data-subset", "0%"},
					[]string{"--no-lock", "--with-cache"},
				)
			}
			for _, args := range cases {
				want, got := checkRun(t, r, args...)
				if want.exit != 0 && len(args) > 0 && args[0] == "--read-data" && len(args) == 1 {
					t.Fatalf("restic check %v fails on a healthy repository: %s", args, want.stderr)
				}
				compareCheck(t, args, want, got, false)
			}
		})
	}
}

// TestCheckDamagedInterop damages copies of a restic-made and an arca-made
// repository in the ways a repository breaks (flipped bytes in packs,
// missing packs, packs and trees missing from the index, truncated
// snapshots and packs, a damaged index file) and requires arca's check to
// fail exactly when restic's does, with the same problems named.
func TestCheckDamagedInterop(t *testing.T) {
	resticBin(t)
	t.Parallel()
	for name, r := range checkRepos(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, c := range checkDamageCases(r.password) {
				if name == "arca" && !c.alsoArca {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					dir := checkCopy(t, r.repo)
					p := readCheckRepoPacks(t, dir, r.password)
					c.damage(t, dir, p)
					dr := newInteropRepo(t, dir, r.password)
					for i, args := range c.args {
						want, got := checkRun(t, dr, args...)
						if want.exit != c.wantExit[i] {
							t.Fatalf("restic check %v: exit %d, want %d: the damage is not what the test means\n%s", args, want.exit, c.wantExit[i], want.stderr)
						}
						compareCheck(t, args, want, got, true)
						if got.exit != 0 && !slices.Contains(args, "--json") {
							for _, s := range c.wantStderr(p) {
								if !strings.Contains(string(got.stderr), s) {
									t.Errorf("check %v: arca's stderr does not name %q:\n%s", args, s, got.stderr)
								}
							}
						}
					}
				})
			}
		})
	}
}

// TestCheckReadDataSubsetSelection damages one data pack and runs every
// group n/t for several t: the groups that find the damage must be the
// same for restic and arca (restic puts a pack in group n when its ID's
// first byte modulo t is n-1), and so must the number of packs each reads.
func TestCheckReadDataSubsetSelection(t *testing.T) {
	resticBin(t)
	t.Parallel()
	f := resticRepoFixture(t, resticRepoOptions{Version: 2, Compression: "auto", Snapshots: 4})
	dir := checkCopy(t, f.Repo)
	p := readCheckRepoPacks(t, dir, f.Password)
	bad := p.data[len(p.data)-1]
	flipByte(t, packPath(dir, bad), 50)
	r := newInteropRepo(t, dir, f.Password)
	for _, total := range []int{2, 3} {
		detected := 0
		for n := 1; n <= total; n++ {
			args := []string{"--read-data-subset", fmt.Sprintf("%d/%d", n, total)}
			want, got := checkRun(t, r, args...)
			compareCheck(t, args, want, got, true)
			if want.exit != 0 {
				detected++
				if wantN := int(bad[0])%total + 1; n != wantN {
					t.Errorf("restic found pack %s in group %d/%d, expected %d", bad.Str(), n, total, wantN)
				}
			}
		}
		if detected != 1 {
			t.Errorf("t=%d: the damaged pack was found by %d groups, want exactly 1", total, detected)
		}
	}
	// a percentage subset is random, but 100% reads everything
	args := []string{"--read-data-subset", "100%"}
	want, got := checkRun(t, r, args...)
	compareCheck(t, args, want, got, true)
	if want.exit == 0 {
		t.Errorf("restic check %v did not find the damaged pack", args)
	}
}

// TestCheckJSONSummary compares the --json summary of a damaged read
// field by field (broken_packs lists the damaged pack).
func TestCheckJSONSummary(t *testing.T) {
	resticBin(t)
	t.Parallel()
	f := resticRepoFixture(t, resticRepoOptions{Version: 2, Compression: "auto", Snapshots: 4})
	dir := checkCopy(t, f.Repo)
	p := readCheckRepoPacks(t, dir, f.Password)
	flipByte(t, packPath(dir, p.data[0]), 10)
	r := newInteropRepo(t, dir, f.Password)
	want, got := checkRun(t, r, "--read-data", "--json")
	var ws, gs checkSummary
	if err := json.Unmarshal(want.stdout, &ws); err != nil {
		t.Fatalf("restic: %v: %s", err, want.stdout)
	}
	if err := json.Unmarshal(got.stdout, &gs); err != nil {
		t.Fatalf("arca: %v: %s", err, got.stdout)
	}
	if !slices.Equal(ws.BrokenPacks, []string{p.data[0].String()}) {
		t.Fatalf("restic's broken_packs %v, want the damaged pack %s", ws.BrokenPacks, p.data[0])
	}
	if fmt.Sprint(ws) != fmt.Sprint(gs) {
		t.Errorf("summary: arca %+v, restic %+v", gs, ws)
	}
}

// TestCheckTakesExclusiveLock: like restic's, arca's check takes an
// exclusive lock, so a fresh shared lock of another process (a backup)
// makes both exit with code 11, and --no-lock checks anyway.
func TestCheckTakesExclusiveLock(t *testing.T) {
	resticBin(t)
	t.Parallel()
	f := resticRepoFixture(t, resticRepoOptions{Version: 2, Compression: "auto", Snapshots: 4})
	dir := checkCopy(t, f.Repo)
	r := openCheckRepo(t, dir, f.Password)
	lk := lock.Lock{Time: time.Now(), Hostname: "another-host", Username: "backup", PID: 4242}
	buf, err := lk.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.SaveLock(context.Background(), buf); err != nil {
		t.Fatal(err)
	}
	r.Close()
	ir := newInteropRepo(t, dir, f.Password)
	want, got := checkRun(t, ir)
	if want.exit != exitLocked || got.exit != exitLocked {
		t.Errorf("check with a shared lock present: restic exit %d, arca exit %d, want %d\narca stderr:\n%s", want.exit, got.exit, exitLocked, got.stderr)
	}
	want, got = checkRun(t, ir, "--no-lock")
	compareCheck(t, []string{"--no-lock"}, want, got, false)
	if got.exit != 0 {
		t.Errorf("check --no-lock: exit %d", got.exit)
	}
}

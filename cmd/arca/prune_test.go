package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
)

// pruneRepo is a repository with snapshots of changing source trees, some
// of them forgotten, for prune tests. Every snapshot's tree is kept on disk
// (gens) so that restores can be compared with it.
type pruneRepo struct {
	dir      string
	password string
	pwFile   string
	gens     []pruneSnapshot // remaining snapshots, oldest first
}

type pruneSnapshot struct {
	id  string
	src string // the directory it backed up
}

type pruneRepoOptions struct {
	version     int    // 1 or 2
	compression string // restic --compression for v2 ("auto", "off")
	arcaBackups bool   // every other backup is made by arca
	generations int    // backups to make (default 8)
	forget      []int  // generations whose snapshots are removed (default 1, 2, 4)
}

// pruneGeneration writes generation g of the prune source tree into dir:
// eight files of 100-900 KiB of random data, three of them new in each
// generation, small compressible text files and a directory per
// generation.
func pruneGeneration(t *testing.T, dir string, g int) {
	t.Helper()
	write := func(rel string, data []byte) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 8 {
		// file i changes in the generations where i is one of 3g..3g+2 (mod 8)
		version := 0
		for h := 1; h <= g; h++ {
			if d := (i - 3*h%8 + 8) % 8; d < 3 {
				version = h
			}
		}
		size := (100 + 100*i) << 10
		write(fmt.Sprintf("data/f%02d.bin", i), fixtureRandomBytes(fmt.Sprintf("prune-%d-v%d", i, version), size))
	}
	for i := range 5 {
		write(fmt.Sprintf("text/t%d.txt", i), fixtureText(fmt.Sprintf("prune-text-%d-%d", i, (g+i)/3), 20<<10))
	}
	write(fmt.Sprintf("gen%d/marker", g), []byte(fmt.Sprintf("generation %d\n", g)))
}

var (
	pruneReposMu sync.Mutex
	pruneRepos   = map[string]*pruneRepoEntry{}
)

type pruneRepoEntry struct {
	once sync.Once
	r    *pruneRepo
	ok   bool
}

// sharedPruneRepo is makePruneRepo made once per test binary run and
// shared: clone it before changing it.
func sharedPruneRepo(t *testing.T, o pruneRepoOptions) *pruneRepo {
	t.Helper()
	key := fmt.Sprintf("%+v", o)
	pruneReposMu.Lock()
	e := pruneRepos[key]
	if e == nil {
		e = &pruneRepoEntry{}
		pruneRepos[key] = e
	}
	pruneReposMu.Unlock()
	e.once.Do(func() {
		dir, err := os.MkdirTemp(sharedFixtureDir(t), "prune-")
		if err != nil {
			t.Fatal(err)
		}
		e.r = buildPruneRepo(t, dir, o)
		e.ok = true
	})
	if !e.ok {
		t.Fatalf("prune repository %s could not be made", key)
	}
	return e.r
}

// makePruneRepo makes a repository for one test.
func makePruneRepo(t *testing.T, o pruneRepoOptions) *pruneRepo {
	t.Helper()
	return buildPruneRepo(t, t.TempDir(), o)
}

func buildPruneRepo(t *testing.T, base string, o pruneRepoOptions) *pruneRepo {
	t.Helper()
	if o.generations == 0 {
		o.generations = 7
	}
	if o.forget == nil {
		o.forget = []int{1, 2, 4}
	}
	r := &pruneRepo{dir: filepath.Join(base, "repo"), password: "prune-test-pw"}
	r.pwFile = filepath.Join(base, "password")
	if err := os.WriteFile(r.pwFile, []byte(r.password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRestic(t, r.env(), "init", "--repository-version", fmt.Sprint(o.version))
	if err := cheapenKey(r.dir, r.password); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, o.generations)
	for g := range o.generations {
		src := filepath.Join(base, fmt.Sprintf("gen%d", g))
		pruneGeneration(t, src, g)
		args := []string{"backup", "--json", "--host", "prune-test", src}
		if o.version >= 2 && o.compression != "" {
			args = append(args, "--compression", o.compression)
		}
		var out []byte
		if o.arcaBackups && g%2 == 1 {
			stdout, stderr, exit := r.arca(t, args...)
			if exit != 0 {
				t.Fatalf("arca backup: exit %d: %s", exit, stderr)
			}
			out = []byte(stdout)
		} else {
			out = mustRestic(t, r.env(), args...)
		}
		id, err := backupSnapshotID(out)
		if err != nil {
			t.Fatal(err)
		}
		ids[g] = id
		if !slices.Contains(o.forget, g) {
			r.gens = append(r.gens, pruneSnapshot{id, src})
		}
	}
	if len(o.forget) > 0 {
		args := []string{"forget"}
		for _, g := range o.forget {
			args = append(args, ids[g])
		}
		mustRestic(t, r.env(), args...)
	}
	return r
}

func (r *pruneRepo) env() []string { return resticTestEnv(r.dir, r.password) }

// arca runs arca in-process on the repository.
func (r *pruneRepo) arca(t *testing.T, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	o, e, code := runArcaInProc(append([]string{"-r", r.dir, "--password-file", r.pwFile}, args...)...)
	return string(o), string(e), code
}

// mustArca is arca that fails the test on a non-zero exit.
func (r *pruneRepo) mustArca(t *testing.T, args ...string) string {
	t.Helper()
	o, e, code := r.arca(t, args...)
	if code != 0 {
		t.Fatalf("arca %s: exit %d\nstderr:\n%s\nstdout:\n%s", strings.Join(args, " "), code, e, o)
	}
	return o
}

// clone returns a private copy of the repository (same snapshots).
func (r *pruneRepo) clone(t *testing.T) *pruneRepo {
	t.Helper()
	c := *r
	c.dir = copyDir(t, r.dir)
	return &c
}

// check runs restic check --read-data and fails the test unless it passes.
func (r *pruneRepo) check(t *testing.T) string {
	t.Helper()
	out, errOut, code := runRestic(t, r.env(), "check", "--read-data")
	if code != 0 || !strings.Contains(string(out), "no errors were found") {
		t.Fatalf("restic check --read-data: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	return string(out) + string(errOut)
}

// verifyRestores restores the oldest and the newest remaining snapshot
// with restic (or arca) and compares them with the trees they were made
// from (restic check --read-data vouches for the blobs of the others).
func (r *pruneRepo) verifyRestores(t *testing.T, withArca bool) {
	t.Helper()
	if len(r.gens) == 0 {
		t.Fatal("no snapshots to verify")
	}
	snaps := []pruneSnapshot{r.gens[0]}
	if len(r.gens) > 1 {
		snaps = append(snaps, r.gens[len(r.gens)-1])
	}
	for _, sn := range snaps {
		target := t.TempDir()
		if withArca {
			r.mustArca(t, "restore", sn.id, "--target", target)
		} else {
			mustRestic(t, r.env(), "restore", sn.id, "--target", target)
		}
		compareTrees(t, sn.src, filepath.Join(target, sn.src), compareOptions{IgnoreRootMeta: true})
	}
}

// packCount counts the pack files.
func (r *pruneRepo) packCount(t *testing.T) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(r.dir, "data"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var pruneProgressTime = regexp.MustCompile(`\[\d+:\d\d(:\d\d)?\]`)

// normalizePruneOutput replaces elapsed times, which differ between runs,
// and sorts the "will remove pack" lines, which come in the order the
// backend lists the packs (directory order for restic's local backend).
func normalizePruneOutput(s string) string {
	lines := strings.Split(pruneProgressTime.ReplaceAllString(s, "[T]"), "\n")
	const unref = "will remove pack "
	for i := 0; i < len(lines); i++ {
		j := i
		for j < len(lines) && strings.HasPrefix(lines[j], unref) {
			j++
		}
		slices.Sort(lines[i:j])
		i = j
	}
	return strings.Join(lines, "\n")
}

// statLine returns the value of a line of the statistics block, e.g.
// statLine(out, "unused:") -> "0 blobs / 0 B".
func statLine(t *testing.T, out, label string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, label) {
			return strings.TrimSpace(strings.TrimPrefix(l, label))
		}
	}
	t.Fatalf("no %q line in:\n%s", label, out)
	return ""
}

type pruneFlagSet struct {
	name  string
	flags []string
}

// pruneFlagSets are the option combinations the tests run.
var pruneFlagSets = map[string]pruneFlagSet{
	"default":               {"default", nil},
	"max-unused-0":          {"max-unused-0", []string{"--max-unused", "0"}},
	"max-unused-unlimited":  {"max-unused-unlimited", []string{"--max-unused", "unlimited"}},
	"max-unused-size":       {"max-unused-size", []string{"--max-unused", "100k"}},
	"repack-cacheable-only": {"repack-cacheable-only", []string{"--repack-cacheable-only", "--max-unused", "0"}},
	"repack-small":          {"repack-small", []string{"--repack-small"}},
	"repack-smaller-than":   {"repack-smaller-than", []string{"--repack-smaller-than", "1M", "--max-unused", "20%"}},
	"max-repack-size":       {"max-repack-size", []string{"--max-unused", "0", "--max-repack-size", "600k"}},
	"max-repack-size-0":     {"max-repack-size-0", []string{"--max-unused", "0", "--max-repack-size", "0"}},
	"repack-uncompressed":   {"repack-uncompressed", []string{"--repack-uncompressed", "--max-unused", "0"}},
}

func flagSets(names ...string) []pruneFlagSet {
	var l []pruneFlagSet
	for _, n := range names {
		l = append(l, pruneFlagSets[n])
	}
	return l
}

// The repositories the tests prune: restic v2 with compression and every
// other snapshot by arca; v2 without compression (uncompressed data
// packs); version 1.
var (
	pruneRepoV2    = pruneRepoOptions{version: 2, arcaBackups: true}
	pruneRepoV2Off = pruneRepoOptions{version: 2, compression: "off", arcaBackups: true}
	pruneRepoV1    = pruneRepoOptions{version: 1, arcaBackups: true}
)

// TestPruneDryRunMatchesRestic: on the same repository, arca prune
// --dry-run -v prints what restic prune --dry-run -v prints (statistics,
// pack counts and the lists of packs to repack and delete), for option
// combinations and repository kinds.
func TestPruneDryRunMatchesRestic(t *testing.T) {
	resticBin(t)
	cases := []struct {
		name string
		opts pruneRepoOptions
		sets []pruneFlagSet
	}{
		{"v2-auto", pruneRepoV2, flagSets("default", "max-unused-0", "max-unused-unlimited", "max-unused-size",
			"repack-cacheable-only", "repack-small", "repack-smaller-than", "max-repack-size", "max-repack-size-0")},
		{"v2-off", pruneRepoV2Off, flagSets("default", "max-unused-0", "repack-uncompressed")},
		{"v1", pruneRepoV1, flagSets("default", "max-unused-0", "repack-small")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := sharedPruneRepo(t, tc.opts)
			for _, fs := range tc.sets {
				args := append([]string{"prune", "--dry-run", "-v"}, fs.flags...)
				want, wantErr, wantCode := runRestic(t, r.env(), args...)
				got, gotErr, gotCode := r.arca(t, args...)
				if wantCode != gotCode {
					t.Errorf("%s: exit arca %d, restic %d\narca stderr: %s\nrestic stderr: %s", fs.name, gotCode, wantCode, gotErr, wantErr)
				}
				if w, g := normalizePruneOutput(string(want)), normalizePruneOutput(got); w != g {
					t.Errorf("%s: output differs\n--- restic\n%s\n--- arca\n%s", fs.name, w, g)
				}
				if gotErr != string(wantErr) {
					t.Errorf("%s: stderr differs\n--- restic\n%s\n--- arca\n%s", fs.name, wantErr, gotErr)
				}
			}
		})
	}
}

// TestPruneInterop prunes with arca under every option combination, then
// restic check --read-data passes, every remaining snapshot restores
// identically with restic, and the repository ends in the state restic's
// own prune reaches from the same start (same blobs used and unused, as
// reported by restic prune --dry-run afterwards).
func TestPruneInterop(t *testing.T) {
	resticBin(t)
	cases := []struct {
		name string
		opts pruneRepoOptions
		sets []pruneFlagSet
	}{
		{"v2-auto", pruneRepoV2, flagSets("default", "max-unused-0", "max-unused-unlimited",
			"repack-cacheable-only", "repack-smaller-than", "max-repack-size")},
		{"v2-off", pruneRepoV2Off, flagSets("default", "repack-uncompressed")},
		{"v1", pruneRepoV1, flagSets("default", "max-unused-0")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := sharedPruneRepo(t, tc.opts)
			rc := tc
			sets := tc.sets
			for _, fs := range sets {
				t.Run(fs.name, func(t *testing.T) {
					t.Parallel()
					a, r := base.clone(t), base.clone(t)
					packsBefore := a.packCount(t)
					out := a.mustArca(t, append([]string{"prune"}, fs.flags...)...)
					if !strings.HasSuffix(out, "done\n") {
						t.Errorf("arca prune output does not end with done:\n%s", out)
					}
					mustRestic(t, r.env(), append([]string{"prune"}, fs.flags...)...)
					a.check(t)
					a.verifyRestores(t, false)

					after := func(p *pruneRepo) string {
						out, _, code := runRestic(t, p.env(), "prune", "--dry-run", "-v", "--max-unused", "unlimited")
						if code != 0 {
							t.Fatalf("restic prune --dry-run: exit %d", code)
						}
						return string(out)
					}
					aAfter, rAfter := after(a), after(r)
					for _, label := range []string{"used:", "unused:", "total:"} {
						ga, gr := statLine(t, aAfter, label), statLine(t, rAfter, label)
						// blob counts must agree; sizes differ by compression of repacked blobs only in v2
						if strings.Fields(ga)[0] != strings.Fields(gr)[0] {
							t.Errorf("after prune, %s arca %s, restic %s", label, ga, gr)
						}
					}
					if rc.opts.version == 1 || rc.opts.compression == "off" {
						if ga, gr := statLine(t, aAfter, "total:"), statLine(t, rAfter, "total:"); ga != gr {
							t.Errorf("after prune, total arca %s, restic %s", ga, gr)
						}
					}
					if fs.name == "max-unused-0" && statLine(t, aAfter, "unused:") != "0 blobs / 0 B" {
						t.Errorf("--max-unused 0 left unused data: %s", statLine(t, aAfter, "unused:"))
					}
					if fs.name == "repack-uncompressed" && strings.Contains(aAfter, "not yet compressed") {
						t.Errorf("--repack-uncompressed left uncompressed data:\n%s", aAfter)
					}
					if fs.name == "default" && a.packCount(t) >= packsBefore {
						t.Errorf("default prune kept all %d packs", packsBefore)
					}
					// a second run finds nothing more to delete
					again := a.mustArca(t, append([]string{"prune", "--dry-run"}, fs.flags...)...)
					if got := statLine(t, again, "to delete:"); got != "0 blobs / 0 B" {
						t.Errorf("second prune would still delete %s", got)
					}
				})
			}
		})
	}
}

// TestPruneAfterResticPrune: after restic prunes a repository that arca
// and restic wrote, arca restores every snapshot and its prune finds
// nothing to do.
func TestPruneAfterResticPrune(t *testing.T) {
	resticBin(t)
	r := sharedPruneRepo(t, pruneRepoV2).clone(t)
	mustRestic(t, r.env(), "prune", "--max-unused", "0")
	r.verifyRestores(t, true)
	out := r.mustArca(t, "prune", "-v")
	for _, label := range []string{"to repack:", "to delete:", "total prune:"} {
		if got := statLine(t, out, label); got != "0 blobs / 0 B" {
			t.Errorf("%s %s after restic prune", label, got)
		}
	}
	r.check(t)
}

// TestPruneUnreferencedPacks: packs no index file lists (an interrupted
// backup) are deleted first, with restic's statistics; restic check is
// clean afterwards.
func TestPruneUnreferencedPacks(t *testing.T) {
	resticBin(t)
	r := makePruneRepo(t, pruneRepoOptions{version: 2, generations: 3, forget: []int{}})
	// a further backup of new data whose snapshot and index are then lost
	src := filepath.Join(t.TempDir(), "extra")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "new.bin"), fixtureRandomBytes("prune-unreferenced", 300<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	before := listDir(t, filepath.Join(r.dir, "index"))
	out := mustRestic(t, r.env(), "backup", "--json", src)
	id, err := backupSnapshotID(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range listDir(t, filepath.Join(r.dir, "index")) {
		if !slices.Contains(before, name) {
			if err := os.Remove(filepath.Join(r.dir, "index", name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	snaps, err := filepath.Glob(filepath.Join(r.dir, "snapshots", id+"*"))
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshot file of %s: %v %v", id, snaps, err)
	}
	if err := os.Remove(snaps[0]); err != nil {
		t.Fatal(err)
	}

	want, wantErr, _ := runRestic(t, r.env(), "prune", "--dry-run", "-v")
	got, gotErr, _ := r.arca(t, "prune", "--dry-run", "-v")
	if w, g := normalizePruneOutput(string(want)), normalizePruneOutput(got); w != g {
		t.Errorf("dry run differs\n--- restic\n%s\n--- arca\n%s\n--- restic stderr\n%s\n--- arca stderr\n%s", w, g, wantErr, gotErr)
	}
	if !strings.Contains(got, "unreferenced:") || !strings.Contains(got, "unreferenced packs") {
		t.Errorf("dry run reports no unreferenced packs:\n%s", got)
	}
	out2 := r.mustArca(t, "prune")
	if !strings.Contains(out2, "deleting unreferenced packs\n") {
		t.Errorf("no deleting unreferenced packs step:\n%s", out2)
	}
	chk := r.check(t)
	if strings.Contains(chk, "not referenced in any index") {
		t.Errorf("unreferenced packs remain:\n%s", chk)
	}
	r.verifyRestores(t, false)
}

// TestPruneMissingPack: when a pack that is still needed is gone, arca
// refuses to prune with restic's message and exit code, and changes
// nothing.
func TestPruneMissingPack(t *testing.T) {
	resticBin(t)
	base := makePruneRepo(t, pruneRepoOptions{version: 2, generations: 3, forget: []int{}})
	// a data pack of the last snapshot is needed
	var pack string
	err := filepath.WalkDir(filepath.Join(base.dir, "data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && pack == "" {
			info, _ := d.Info()
			if info.Size() > 200<<10 {
				pack = p
			}
		}
		return err
	})
	if err != nil || pack == "" {
		t.Fatalf("no data pack found: %v", err)
	}
	a, r := base.clone(t), base.clone(t)
	for _, p := range []*pruneRepo{a, r} {
		if err := os.Remove(filepath.Join(p.dir, strings.TrimPrefix(pack, base.dir))); err != nil {
			t.Fatal(err)
		}
	}
	packsBefore := a.packCount(t)
	want, wantErr, wantCode := runRestic(t, r.env(), "prune")
	got, gotErr, gotCode := a.arca(t, "prune")
	if gotCode != wantCode || gotCode != 1 {
		t.Errorf("exit arca %d, restic %d (want 1)", gotCode, wantCode)
	}
	if w, g := normalizePruneOutput(string(want)), normalizePruneOutput(got); w != g {
		t.Errorf("stdout differs\n--- restic\n%s\n--- arca\n%s", w, g)
	}
	if string(wantErr) != gotErr {
		t.Errorf("stderr differs\n--- restic\n%s\n--- arca\n%s", wantErr, gotErr)
	}
	if !strings.Contains(gotErr, "needed pack files which are missing from the repository") || !strings.Contains(gotErr, "Fatal: packs from index missing in repo") {
		t.Errorf("stderr lacks restic's error:\n%s", gotErr)
	}
	if n := a.packCount(t); n != packsBefore {
		t.Errorf("failed prune changed the packs: %d -> %d", packsBefore, n)
	}
}

// TestPruneOptionErrors: invalid options fail as in restic.
func TestPruneOptionErrors(t *testing.T) {
	resticBin(t)
	r := makePruneRepo(t, pruneRepoOptions{version: 1, generations: 1, forget: []int{}})
	for _, args := range [][]string{
		{"--max-unused", "abc"},
		{"--max-unused", "100%"},
		{"--max-unused", "-1%"},
		{"--max-unused", ""},
		{"--max-repack-size", "x"},
		{"--repack-smaller-than", "0"},
		{"--repack-smaller-than", "64M"},
		{"--repack-uncompressed"},
		{"--unsafe-recover-no-free-space", "wrong-id"},
		{"--no-lock"},
	} {
		full := append([]string{"prune"}, args...)
		_, wantErr, wantCode := runRestic(t, r.env(), full...)
		_, gotErr, gotCode := r.arca(t, full...)
		if gotCode != wantCode || strings.TrimSpace(gotErr) != strings.TrimSpace(string(wantErr)) {
			t.Errorf("prune %v: arca exit %d %q, restic exit %d %q", args, gotCode, gotErr, wantCode, wantErr)
		}
	}
}

// TestPruneUnsafeRecovery: --unsafe-recover-no-free-space with the
// repository ID deletes the unused packs without repacking and leaves a
// repository restic accepts.
func TestPruneUnsafeRecovery(t *testing.T) {
	resticBin(t)
	r := sharedPruneRepo(t, pruneRepoV2).clone(t)
	var cfg repoConfigJSON
	catConfig(t, r, &cfg)
	out := r.mustArca(t, "prune", "--unsafe-recover-no-free-space", cfg.ID)
	for _, want := range []string{"to repack:             0 blobs / 0 B", "deleting index files\n", "done\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	r.check(t)
	r.verifyRestores(t, false)
}

func catConfig(t *testing.T, r *pruneRepo, cfg *repoConfigJSON) {
	t.Helper()
	out := mustRestic(t, r.env(), "cat", "config")
	if err := json.Unmarshal(out, cfg); err != nil {
		t.Fatal(err)
	}
}

// TestPruneCrash kills arca prune (SIGKILL) at points of its execution:
// after repacking some packs, after all new packs and their index are
// stored, after the new index is written but before the old one is
// deleted, after the old index files are deleted, and after the first
// pack was deleted. Each time restic check --read-data passes (after
// restic unlock removes the dead process's lock) and the next arca prune
// completes, leaving a clean repository whose snapshots restore.
func TestPruneCrash(t *testing.T) {
	resticBin(t)
	base := sharedPruneRepo(t, pruneRepoV2)
	for _, point := range []string{"pack-repacked:1", "repacked", "index-written", "index-deleted", "pack-deleted:2"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			r := base.clone(t)
			cmd := arcaProcess(t, []string{"ARCA_TEST_PRUNE_KILL_AT=" + point},
				"-r", r.dir, "--password-file", r.pwFile, "prune", "--max-unused", "0")
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("arca prune was not killed at %s: %v\n%s", point, err, out.String())
			}
			mustRestic(t, r.env(), "unlock")
			r.check(t)
			r.verifyRestores(t, false)
			if point == "repacked" {
				// every repacked blob is now stored twice: arca plans
				// around the duplicates as restic does
				args := []string{"prune", "--dry-run", "-v", "--max-unused", "0"}
				want := normalizePruneOutput(string(mustRestic(t, r.env(), args...)))
				got := normalizePruneOutput(r.mustArca(t, args...))
				if want != got || !strings.Contains(got, "duplicates:") {
					t.Errorf("dry run with duplicates differs\n--- restic\n%s\n--- arca\n%s", want, got)
				}
			}

			out2 := r.mustArca(t, "prune", "--max-unused", "0", "-v")
			if !strings.HasSuffix(out2, "done\n") {
				t.Errorf("second prune did not finish:\n%s", out2)
			}
			chk := r.check(t)
			if strings.Contains(chk, "not referenced in any index") {
				t.Errorf("unreferenced packs after the second prune:\n%s", chk)
			}
			again := r.mustArca(t, "prune", "--dry-run", "-v", "--max-unused", "0")
			if got := statLine(t, again, "unused:"); got != "0 blobs / 0 B" {
				t.Errorf("unused data after the second prune: %s", got)
			}
			r.verifyRestores(t, false)
		})
	}
}

// TestPruneMissingUnneededPack: a pack the index lists but that is gone
// and holds nothing in use is forgotten with restic's warnings, and the
// index no longer mentions it.
func TestPruneMissingUnneededPack(t *testing.T) {
	resticBin(t)
	base := sharedPruneRepo(t, pruneRepoV2)
	out := base.mustArca(t, "prune", "--dry-run", "-v")
	m := regexp.MustCompile(`Would have removed the following no longer used packs:\n\{([0-9a-f]{8})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no unused pack in the dry run:\n%s", out)
	}
	a, r := base.clone(t), base.clone(t)
	for _, p := range []*pruneRepo{a, r} {
		files, err := filepath.Glob(filepath.Join(p.dir, "data", m[1][:2], m[1]+"*"))
		if err != nil || len(files) != 1 {
			t.Fatalf("pack %s: %v %v", m[1], files, err)
		}
		if err := os.Remove(files[0]); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"prune", "--dry-run", "-v"}
	want, wantErr, wantCode := runRestic(t, r.env(), args...)
	got, gotErr, gotCode := a.arca(t, args...)
	if gotCode != 0 || wantCode != 0 {
		t.Fatalf("dry run exit arca %d, restic %d: %s", gotCode, wantCode, gotErr)
	}
	if w, g := normalizePruneOutput(string(want)), normalizePruneOutput(got); w != g {
		t.Errorf("dry run differs\n--- restic\n%s\n--- arca\n%s", w, g)
	}
	if string(wantErr) != gotErr || !strings.Contains(gotErr, "will forget missing pack file "+m[1]) {
		t.Errorf("stderr differs\n--- restic\n%s\n--- arca\n%s", wantErr, gotErr)
	}
	a.mustArca(t, "prune")
	chk := a.check(t)
	if strings.Contains(chk, m[1]) {
		t.Errorf("restic check still mentions the missing pack:\n%s", chk)
	}
	a.verifyRestores(t, false)
}

// TestPruneLocked: prune needs the exclusive lock: a fresh shared lock of
// another host (a running backup) makes it fail with exit code 11 and
// change nothing, while --dry-run --no-lock still plans.
func TestPruneLocked(t *testing.T) {
	resticBin(t)
	r := sharedPruneRepo(t, pruneRepoV1).clone(t)
	ctx := context.Background()
	be, err := local.Open(ctx, r.dir)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := repo.Open(ctx, be, r.password, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lk := lock.Lock{Time: time.Now(), Hostname: "some-other-host", Username: "backup", PID: 4242}
	buf, _ := lk.Marshal()
	_, err = rp.SaveLock(ctx, buf)
	rp.Close()
	be.Close()
	if err != nil {
		t.Fatal(err)
	}
	packs := r.packCount(t)
	_, stderr, code := r.arca(t, "prune")
	if code != exitLocked || !strings.Contains(stderr, "some-other-host") {
		t.Errorf("prune with a foreign shared lock: exit %d, want %d\n%s", code, exitLocked, stderr)
	}
	if n := r.packCount(t); n != packs {
		t.Errorf("locked prune changed the packs: %d -> %d", packs, n)
	}
	out, stderr, code := r.arca(t, "prune", "--dry-run", "--no-lock")
	if code != 0 || !strings.Contains(out, "Would have made the following changes:") {
		t.Errorf("prune --dry-run --no-lock: exit %d\n%s\n%s", code, out, stderr)
	}
}

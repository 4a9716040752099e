package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/arca-backup/arca/backend/rest/resttest"
)

// cliRun is what one run of restic or arca printed and its exit code.
type cliRun struct {
	stdout, stderr string
	exit           int
}

// checkCachePath is the temporary cache check names; it differs per run.
var checkCachePath = regexp.MustCompile(`(?m)^using temporary cache in \S+$`)

func (c cliRun) normalized() cliRun {
	c.stdout = checkCachePath.ReplaceAllString(c.stdout, "using temporary cache in TMP")
	return c
}

// migrateRuns runs restic, then arca, with the same arguments against the
// repositories rRepo and aRepo (which may be the same), reading the
// password from pwFile.
func migrateRuns(t *testing.T, rRepo, aRepo, pwFile string, args ...string) (restic, arca cliRun) {
	t.Helper()
	ro, re, rc := runRestic(t, nil, append([]string{"-r", rRepo, "-p", pwFile}, args...)...)
	restic = cliRun{string(ro), string(re), rc}
	ao, ae, ac := arcaCmd(t, append([]string{"-r", aRepo, "-p", pwFile}, args...)...)
	arca = cliRun{ao, ae, ac}
	return restic.normalized(), arca.normalized()
}

func compareRuns(t *testing.T, what string, restic, arca cliRun) {
	t.Helper()
	if restic != arca {
		t.Errorf("%s differs:\nrestic (exit %d):\n%s--- stderr:\n%s\narca (exit %d):\n%s--- stderr:\n%s",
			what, restic.exit, restic.stdout, restic.stderr, arca.exit, arca.stdout, arca.stderr)
	}
}

// migrateFixture returns a private copy of a restic-made repository of
// the given version (one snapshot) and a file with its password.
func migrateFixture(t *testing.T, version int) (f *resticFixture, repoDir, pwFile string) {
	t.Helper()
	f = resticRepoFixture(t, resticRepoOptions{Version: version, Snapshots: 1})
	return f, copyDir(t, f.Repo), passwordFile(t, f.Password)
}

// TestMigrateList: without arguments, migrate lists upgrade_repo_v2 for a
// version 1 repository and nothing for a version 2 one, as restic does,
// also with --quiet and --json (whose output stays text in restic).
func TestMigrateList(t *testing.T) {
	resticBin(t)
	t.Parallel()
	for _, version := range []int{1, 2} {
		_, dir, pw := migrateFixture(t, version)
		for _, extra := range [][]string{nil, {"--quiet"}, {"--json"}, {"--no-lock"}} {
			r, a := migrateRuns(t, dir, dir, pw, append(extra, "migrate")...)
			compareRuns(t, "migrate "+strings.Join(extra, " ")+" on version "+string(rune('0'+version)), r, a)
		}
		r, _ := migrateRuns(t, dir, dir, pw, "migrate")
		wantListed := version == 1
		if listed := strings.Contains(r.stdout, "  upgrade_repo_v2\tupgrade a repository to version 2\n"); listed != wantListed {
			t.Errorf("version %d: restic lists upgrade_repo_v2: %v\n%s", version, listed, r.stdout)
		}
	}
}

// TestMigrateErrors: migrations that do not apply or do not exist, a
// missing repository and a wrong password give restic's output and exit
// codes; a shared lock of another process blocks migrate (it takes an
// exclusive lock, even with --no-lock).
func TestMigrateErrors(t *testing.T) {
	resticBin(t)
	t.Parallel()
	_, dir, pw := migrateFixture(t, 2)
	for _, args := range [][]string{
		{"migrate", "upgrade_repo_v2"},
		{"migrate", "--force", "upgrade_repo_v2"}, // runs the check, then fails
		{"migrate", "-f", "-q", "upgrade_repo_v2"},
		{"migrate", "s3_layout"}, // gone since restic 0.18
		{"migrate", "foo", "upgrade_repo_v2", "bar"},
		{"migrate", "--json", "nope"},
	} {
		r, a := migrateRuns(t, dir, dir, pw, args...)
		compareRuns(t, strings.Join(args, " "), r, a)
	}
	r, _ := migrateRuns(t, dir, dir, pw, "migrate", "--force", "upgrade_repo_v2")
	if r.exit != 1 || !strings.Contains(r.stderr, "only upgrades from version 1 are supported") {
		t.Errorf("restic migrate --force on version 2: exit %d\n%s", r.exit, r.stderr)
	}
	if r, _ := migrateRuns(t, dir, dir, pw, "migrate", "foo"); r.exit != 0 || r.stderr != "unknown migration foo\n" {
		t.Errorf("restic migrate foo: exit %d, stderr %q", r.exit, r.stderr)
	}

	missing := filepath.Join(t.TempDir(), "none")
	r, a := migrateRuns(t, missing, missing, pw, "migrate")
	if r.exit != exitNoRepository || a.exit != exitNoRepository {
		t.Errorf("missing repository: restic exit %d, arca exit %d\narca: %s", r.exit, a.exit, a.stderr)
	}
	wrong := passwordFile(t, "wrong")
	r, a = migrateRuns(t, dir, dir, wrong, "migrate", "--no-cache")
	compareRuns(t, "migrate with a wrong password", r, a)

	_, v1, _ := migrateFixture(t, 1)
	f := resticRepoFixture(t, resticRepoOptions{Version: 1, Snapshots: 1})
	writeForeignLock(t, v1, f.Password, false)
	for _, args := range [][]string{{"migrate"}, {"--no-lock", "migrate", "upgrade_repo_v2"}} {
		r, a := migrateRuns(t, v1, v1, pw, args...)
		if r.exit != exitLocked || a.exit != exitLocked {
			t.Errorf("%v with a shared lock present: restic exit %d, arca exit %d\narca: %s", args, r.exit, a.exit, a.stderr)
		}
	}
	if cfg := resticConfig(t, v1, pw); cfg.Version != 1 {
		t.Errorf("the locked repository was upgraded to version %d", cfg.Version)
	}
}

// TestMigrateUpgradeRepoV2: arca upgrades a version 1 repository written
// by restic as restic does (same output, same config but the version);
// restic then checks it and both back up into it with compression and
// restore each other's snapshots.
func TestMigrateUpgradeRepoV2(t *testing.T) {
	resticBin(t)
	t.Parallel()
	f, rDir, pw := migrateFixture(t, 1)
	aDir := copyDir(t, f.Repo)
	before := resticConfig(t, aDir, pw)

	r, a := migrateRuns(t, rDir, aDir, pw, "migrate", "upgrade_repo_v2")
	compareRuns(t, "migrate upgrade_repo_v2", r, a)
	if !strings.HasSuffix(a.stdout, "applying migration upgrade_repo_v2...\nmigration upgrade_repo_v2: success\n") || a.exit != 0 {
		t.Fatalf("arca migrate upgrade_repo_v2: exit %d\n%s%s", a.exit, a.stdout, a.stderr)
	}
	rCfg, aCfg := resticConfig(t, rDir, pw), resticConfig(t, aDir, pw)
	if aCfg != rCfg || aCfg.Version != 2 || aCfg.ID != before.ID || aCfg.ChunkerPolynomial != before.ChunkerPolynomial {
		t.Errorf("config after the upgrade: arca %+v, restic %+v, before %+v", aCfg, rCfg, before)
	}
	rInfo, err1 := os.Stat(filepath.Join(rDir, "config"))
	aInfo, err2 := os.Stat(filepath.Join(aDir, "config"))
	if err1 != nil || err2 != nil || rInfo.Mode() != aInfo.Mode() {
		t.Errorf("config file: restic %v %v, arca %v %v", rInfo, err1, aInfo, err2)
	}
	if lock, _ := os.ReadDir(filepath.Join(aDir, "locks")); len(lock) != 0 {
		t.Errorf("arca left %d lock files", len(lock))
	}

	// the upgraded repository: arca's and restic's listing agree (nothing left)
	r, a = migrateRuns(t, aDir, aDir, pw, "migrate")
	compareRuns(t, "migrate after the upgrade", r, a)
	mustRestic(t, nil, "-r", aDir, "-p", pw, "check", "--read-data")

	// both back up compressible data into it, compressed
	src := t.TempDir()
	for _, who := range []string{"arca", "restic"} {
		dir := filepath.Join(src, who)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "log.txt"), fixtureLogText("migrate-"+who, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "random.bin"), fixtureRandomBytes("migrate-"+who, 64<<10), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ao, ae, ac := arcaCmd(t, "-r", aDir, "-p", pw, "backup", "--json", "--compression", "max", filepath.Join(src, "arca"))
	if ac != 0 {
		t.Fatalf("arca backup: exit %d\n%s", ac, ae)
	}
	aSnap, err := backupSnapshotID([]byte(ao))
	if err != nil {
		t.Fatal(err)
	}
	rSnap, err := backupSnapshotID(mustRestic(t, nil, "-r", aDir, "-p", pw, "backup", "--json", "--compression", "auto", filepath.Join(src, "restic")))
	if err != nil {
		t.Fatal(err)
	}
	mustRestic(t, nil, "-r", aDir, "-p", pw, "check", "--read-data")
	for who, sn := range map[string]string{"arca": aSnap, "restic": rSnap} {
		var stats struct {
			TotalSize             uint64 `json:"total_size"`
			TotalUncompressedSize uint64 `json:"total_uncompressed_size"`
		}
		out := mustRestic(t, nil, "-r", aDir, "-p", pw, "stats", "--mode", "raw-data", "--json", sn)
		if err := json.Unmarshal(out, &stats); err != nil {
			t.Fatalf("restic stats: %v\n%s", err, out)
		}
		if stats.TotalSize == 0 || stats.TotalUncompressedSize < 2*stats.TotalSize {
			t.Errorf("%s's snapshot: %d bytes stored for %d bytes of blobs: not compressed", who, stats.TotalSize, stats.TotalUncompressedSize)
		}
	}

	// each restores the other's snapshot
	rTarget, aTarget := t.TempDir(), t.TempDir()
	mustRestic(t, nil, "-r", aDir, "-p", pw, "restore", aSnap, "--target", rTarget)
	compareTrees(t, filepath.Join(src, "arca"), filepath.Join(rTarget, src, "arca"), compareOptions{IgnoreRootMeta: true})
	if _, ae, ac := arcaCmd(t, "-r", aDir, "-p", pw, "restore", rSnap, "--target", aTarget); ac != 0 {
		t.Fatalf("arca restore: exit %d\n%s", ac, ae)
	}
	compareTrees(t, filepath.Join(src, "restic"), filepath.Join(aTarget, src, "restic"), compareOptions{IgnoreRootMeta: true})

	// the old snapshot still restores bit for bit
	old := t.TempDir()
	if _, ae, ac := arcaCmd(t, "-r", aDir, "-p", pw, "restore", f.Snapshots[0].ID, "--target", old); ac != 0 {
		t.Fatalf("arca restore of the version 1 snapshot: exit %d\n%s", ac, ae)
	}
	compareTrees(t, f.Source, filepath.Join(old, "src"), compareOptions{IgnoreRootMeta: true})
}

// TestFeatures: `features` prints restic's table, and RESTIC_FEATURES is
// read as restic reads it before any command: warnings for stable flags,
// exit code 1 and restic's message for unknown flags or bad values.
func TestFeatures(t *testing.T) {
	resticBin(t)
	t.Parallel()
	for _, c := range []struct {
		env  string
		args []string
	}{
		{"", []string{"features"}},
		{"", []string{"features", "--quiet"}},
		{"", []string{"--json", "features"}},
		{"", []string{"features", "extra"}},
		{"s3-restore", []string{"features"}},
		{"device-id-for-hardlinks=1,backend-error-redesign=f", []string{"features"}},
		{"deprecate-legacy-index=false", []string{"features"}},
		{"safe-forget-keep-tags=true", []string{"features"}},
		{"foo", []string{"features"}},
		{"s3-restore=maybe", []string{"features"}},
		{",", []string{"features"}},
		{"=true", []string{"features"}},
		{"s3-restore=T", []string{"version"}},
		{"s3-restore=yes", []string{"version"}}, // not a Go boolean
		{"nope", []string{"--help"}},
		{"nope", []string{"migrate"}},
	} {
		env := []string{"RESTIC_FEATURES=" + c.env}
		ro, re, rc := runRestic(t, env, c.args...)
		cmd := arcaProcess(t, env, c.args...)
		var ao, ae bytes.Buffer
		cmd.Stdout, cmd.Stderr = &ao, &ae
		err := cmd.Run()
		ac := cmd.ProcessState.ExitCode()
		if err != nil && ac <= 0 {
			t.Fatalf("running arca: %v", err)
		}
		what := "RESTIC_FEATURES=" + c.env + " " + strings.Join(c.args, " ")
		want, got := cliRun{string(ro), string(re), rc}, cliRun{ao.String(), ae.String(), ac}
		if c.args[0] == "version" {
			// the version line is arca's own; the rest must agree
			want.stdout, got.stdout = "", ""
		}
		compareRuns(t, what, want, got)
	}
}

// TestFeaturesDeviceIDForHardlinks: with RESTIC_FEATURES=device-id-for-hardlinks
// arca, like restic, keeps the device ID only in the nodes of hard-linked
// files, and both write the same tree for the same directory; without it
// every node keeps it (and the trees still agree).
func TestFeaturesDeviceIDForHardlinks(t *testing.T) {
	resticBin(t)
	t.Parallel()
	dir := t.TempDir()
	repoDir, src := filepath.Join(dir, "repo"), filepath.Join(dir, "src")
	const password = "device id test"
	pw := passwordFile(t, password)
	mustRestic(t, nil, "-r", repoDir, "-p", pw, "init")
	if err := cheapenKey(repoDir, password); err != nil {
		t.Fatal(err)
	}
	b := newSourceTreeBuilder(src)
	b.write("linked", []byte("two names\n"), 0o644)
	b.hardlink("linked", "also-linked")
	b.write("single", []byte("one name\n"), 0o644)
	b.write("sub/inner", []byte("inside\n"), 0o600)
	b.symlink("single", "link")
	b.finish()
	if b.err != nil {
		t.Fatal(b.err)
	}
	env := resticTestEnv(repoDir, password)

	for _, flag := range []string{"device-id-for-hardlinks=true", "device-id-for-hardlinks=false"} {
		fenv := []string{"RESTIC_FEATURES=" + flag}
		rSnap, err := backupSnapshotID(mustRestic(t, fenv, "-r", repoDir, "-p", pw, "backup", "--json", src))
		if err != nil {
			t.Fatal(err)
		}
		cmd := arcaProcess(t, fenv, "-r", repoDir, "-p", pw, "backup", "--json", src)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("arca backup with %s: %v\n%s", flag, err, errOut.String())
		}
		aSnap, err := backupSnapshotID(out.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		rTree, aTree := subtreeAt(t, env, rSnap, src), subtreeAt(t, env, aSnap, src)
		if rTree != aTree {
			t.Errorf("%s: restic wrote tree %s for the directory, arca %s", flag, rTree, aTree)
		}
		var tree struct {
			Nodes []struct {
				Name     string `json:"name"`
				DeviceID uint64 `json:"device_id"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal(mustRestic(t, env, "cat", "blob", aTree), &tree); err != nil {
			t.Fatal(err)
		}
		only := strings.HasSuffix(flag, "=true")
		for _, n := range tree.Nodes {
			want := !only || strings.HasSuffix(n.Name, "linked")
			if (n.DeviceID != 0) != want {
				t.Errorf("%s: node %s has device ID %d, want one: %v", flag, n.Name, n.DeviceID, want)
			}
		}
		if len(tree.Nodes) != 5 {
			t.Errorf("%s: %d nodes in the tree, want 5", flag, len(tree.Nodes))
		}
	}
}

// TestMigrateUpgradeRepoV2DamagedRepo: the check before the upgrade finds
// a missing pack, so neither restic nor arca upgrades; both end with
// check's verdict and exit code 1.
func TestMigrateUpgradeRepoV2DamagedRepo(t *testing.T) {
	resticBin(t)
	t.Parallel()
	f, rDir, pw := migrateFixture(t, 1)
	aDir := copyDir(t, f.Repo)
	var packs []string
	err := filepath.WalkDir(filepath.Join(rDir, "data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			packs = append(packs, strings.TrimPrefix(p, rDir))
		}
		return err
	})
	if err != nil || len(packs) == 0 {
		t.Fatalf("no packs found: %v", err)
	}
	for _, dir := range []string{rDir, aDir} {
		if err := os.Remove(filepath.Join(dir, packs[0])); err != nil {
			t.Fatal(err)
		}
	}
	r, a := migrateRuns(t, rDir, aDir, pw, "migrate", "upgrade_repo_v2")
	const verdict = "\nFatal: repository contains errors\n"
	if r.exit != 1 || a.exit != 1 || !strings.HasSuffix(r.stderr, verdict) || !strings.HasSuffix(a.stderr, verdict) {
		t.Errorf("restic exit %d, arca exit %d, want 1 and %q\nrestic:\n%s\narca:\n%s", r.exit, a.exit, verdict, r.stderr, a.stderr)
	}
	if r.stdout != a.stdout || strings.Contains(a.stdout, "applying migration") {
		t.Errorf("stdout differs or the migration was applied:\nrestic:\n%s\narca:\n%s", r.stdout, a.stdout)
	}
	for _, dir := range []string{rDir, aDir} {
		if cfg := resticConfig(t, dir, pw); cfg.Version != 1 {
			t.Errorf("%s: version %d after a failed check, want 1", dir, cfg.Version)
		}
	}
}

// TestMigrateUpgradeRepoV2REST: on a REST server, which cannot replace a
// file atomically (the old config is removed first), arca upgrades a
// version 1 repository written by restic; restic checks it, and a
// compressed backup by arca restores with restic.
func TestMigrateUpgradeRepoV2REST(t *testing.T) {
	resticBin(t)
	s := resttest.FromEnv(t)
	loc, dir := restRepo(t, s)
	const password = "migrate over rest"
	env := resticTestEnv(loc, password)
	mustRestic(t, env, "init", "--repository-version", "1")
	cheapen(t, dir, password)
	src := filepath.Join(t.TempDir(), "src")
	makeRESTTree(t, src, 3)
	mustRestic(t, env, "backup", "--quiet", src)

	r := newInteropRepo(t, loc, password)
	res := r.arca(t, "migrate", "upgrade_repo_v2")
	if res.exit != 0 || !strings.HasSuffix(string(res.stdout), "migration upgrade_repo_v2: success\n") {
		t.Fatalf("arca migrate upgrade_repo_v2: exit %d\n%s%s", res.exit, res.stdout, res.stderr)
	}
	var cfg repoConfigJSON
	if err := json.Unmarshal(mustRestic(t, env, "cat", "config"), &cfg); err != nil || cfg.Version != 2 {
		t.Fatalf("restic cat config after the upgrade: %+v %v", cfg, err)
	}
	mustRestic(t, env, "check", "--read-data")

	src2 := filepath.Join(t.TempDir(), "src2")
	makeRESTTree(t, src2, 4)
	if res := r.arca(t, "backup", "--quiet", "--compression", "max", src2); res.exit != 0 {
		t.Fatalf("arca backup: exit %d\n%s", res.exit, res.stderr)
	}
	mustRestic(t, env, "check", "--read-data")
	dst := t.TempDir()
	mustRestic(t, env, "restore", "latest", "--target", dst)
	compareTrees(t, src2, filepath.Join(dst, src2), compareOptions{})
}

// TestFeaturesManPages: the man pages of features and migrate are
// restic's apart from the description, which arca words itself: same
// name, synopsis, exit status, options and inherited options.
func TestFeaturesManPages(t *testing.T) {
	want, got := t.TempDir(), t.TempDir()
	mustRestic(t, nil, "generate", "--man", want)
	if _, stderr, code := arcaCmd(t, "generate", "--man", got); code != 0 {
		t.Fatalf("arca generate --man: exit %d\n%s", code, stderr)
	}
	description := regexp.MustCompile(`(?s)\n\.SH DESCRIPTION\n.*?\n\.SH `)
	for _, page := range []string{"restic-migrate.1", "restic-features.1"} {
		w, err1 := os.ReadFile(filepath.Join(want, page))
		g, err2 := os.ReadFile(filepath.Join(got, page))
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: restic %v, arca %v", page, err1, err2)
		}
		w = description.ReplaceAll(w, []byte("\n.SH DESCRIPTION\n\n.SH "))
		g = description.ReplaceAll(g, []byte("\n.SH DESCRIPTION\n\n.SH "))
		if !bytes.Equal(w, g) || !bytes.Contains(g, []byte("\n.SH EXIT STATUS\n")) {
			t.Errorf("%s differs from restic's beyond the description:\nrestic:\n%s\narca:\n%s", page, w, g)
		}
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arca-backup/arca/backend/rest/resttest"
)

// Interop tests on a REST server (rclone serve restic): arca and restic use
// the same "rest:" repository. They skip when REST_URL is unset (see
// scripts/testservers/start-rest.sh).

// restRepo is a fresh repository location on s: the "rest:" string and
// the directory the server keeps it in ("" when unknown).
func restRepo(t *testing.T, s resttest.Server) (loc, dir string) {
	t.Helper()
	raw := s.NewRepo(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if s.Root != "" {
		dir = filepath.Join(s.Root, path.Base(u.Path))
	}
	return "rest:" + strings.TrimSuffix(raw, "/"), dir
}

// cheapen replaces the repository's key with one that opens quickly, when
// the server's directory is known.
func cheapen(t *testing.T, dir, password string) {
	t.Helper()
	if dir == "" {
		return
	}
	if err := cheapenKey(dir, password); err != nil {
		t.Fatal(err)
	}
}

// makeRESTTree writes a small tree for the REST tests (the backend, not
// the archiver, is under test): a file of several chunks, small files, an
// empty file, a subdirectory and a symlink. gen varies the contents.
func makeRESTTree(t *testing.T, dir string, gen int) {
	t.Helper()
	b := newSourceTreeBuilder(dir)
	name := fmt.Sprintf("rest-%d", gen)
	b.write("big.bin", fixtureRandomBytes(name+"-big", 3<<20+12345), 0o644)
	b.write("notes.txt", fixtureText(name+"-notes", 5000), 0o600)
	b.write("sub/dir/log.txt", fixtureLogText(name+"-log", 20000), 0o644)
	b.write("sub/empty", nil, 0o644)
	b.symlink("../notes.txt", "sub/link")
	b.finish()
	if b.err != nil {
		t.Fatalf("making the tree in %s: %v", dir, b.err)
	}
}

// snapshotIDs returns the IDs in `snapshots --json` output.
func restSnapshotIDs(t *testing.T, out []byte) []string {
	t.Helper()
	var snaps []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &snaps); err != nil {
		t.Fatalf("snapshots --json: %v\n%s", err, out)
	}
	var ids []string
	for _, s := range snaps {
		ids = append(ids, s.ID)
	}
	return ids
}

// TestRESTInterop: arca creates a repository on a REST server and backs up
// into it, restic checks every byte and adds a snapshot, and both list and
// restore the same snapshots.
func TestRESTInterop(t *testing.T) {
	resticBin(t)
	s := resttest.FromEnv(t)
	loc, dir := restRepo(t, s)
	const password = "rest interop"
	r := newInteropRepo(t, loc, password)

	init := r.arca(t, "init")
	if init.exit != 0 {
		t.Fatalf("arca init: exit %d\n%s", init.exit, init.stderr)
	}
	if want := "created restic repository "; !strings.HasPrefix(string(init.stdout), want) || !strings.Contains(string(init.stdout), " at "+loc+"/\n") {
		t.Errorf("arca init printed %q", init.stdout)
	}
	cheapen(t, dir, password)

	src := filepath.Join(t.TempDir(), "src")
	makeRESTTree(t, src, 0)
	if res := r.arca(t, "backup", "--json", "--quiet", src); res.exit != 0 {
		t.Fatalf("arca backup: exit %d\n%s", res.exit, res.stderr)
	}
	mustRestic(t, resticTestEnv(loc, password), "check", "--read-data")

	// restic adds a snapshot of a changed tree
	src2 := filepath.Join(t.TempDir(), "src2")
	makeRESTTree(t, src2, 1)
	mustRestic(t, resticTestEnv(loc, password), "backup", "--quiet", src2)

	for _, args := range [][]string{{"snapshots"}, {"snapshots", "--json"}, {"-o", "rest.connections=2", "snapshots", "--compact"}} {
		want, got := r.both(t, args...)
		compareExact(t, args, want, got)
	}
	ids := restSnapshotIDs(t, r.restic(t, "snapshots", "--json").stdout)
	if len(ids) != 2 {
		t.Fatalf("restic lists %d snapshots, want 2", len(ids))
	}
	for i, tree := range []string{src, src2} {
		dst := t.TempDir()
		if res := r.arca(t, "restore", ids[i], "--target", dst); res.exit != 0 {
			t.Fatalf("arca restore %s: exit %d\n%s", ids[i], res.exit, res.stderr)
		}
		compareTrees(t, tree, filepath.Join(dst, tree), compareOptions{})
	}
	dst := t.TempDir()
	mustRestic(t, resticTestEnv(loc, password), "restore", ids[0], "--target", dst)
	compareTrees(t, src, filepath.Join(dst, src), compareOptions{})

	// unknown options and unreadable certificates are refused as restic refuses them
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("no certificate here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-o", "rest.nosuchoption=1", "snapshots"},
		{"-o", "rest.connections=many", "snapshots"},
		{"--cacert", filepath.Join(t.TempDir(), "missing.pem"), "snapshots"},
		{"--cacert", garbage, "snapshots"},
		{"--tls-client-cert", garbage, "snapshots"},
	} {
		want, got := r.both(t, args...)
		compareExact(t, args, want, got)
	}
}

// TestRESTReadsResticRepository: a repository restic made on the server
// reads the same in arca.
func TestRESTReadsResticRepository(t *testing.T) {
	resticBin(t)
	s := resttest.FromEnv(t)
	loc, dir := restRepo(t, s)
	const password = "made by restic"
	env := resticTestEnv(loc, password)
	mustRestic(t, env, "init", "--repository-version", "2")
	cheapen(t, dir, password)
	src := filepath.Join(t.TempDir(), "src")
	makeRESTTree(t, src, 2)
	mustRestic(t, env, "backup", "--quiet", "--tag", "rest", src)

	r := newInteropRepo(t, loc, password)
	for _, args := range [][]string{{"snapshots"}, {"ls", "latest"}, {"cat", "config"}} {
		want, got := r.both(t, args...)
		compareExact(t, args, want, got)
	}
	dst := t.TempDir()
	if res := r.arca(t, "restore", "latest", "--target", dst); res.exit != 0 {
		t.Fatalf("arca restore: exit %d\n%s", res.exit, res.stderr)
	}
	compareTrees(t, src, filepath.Join(dst, src), compareOptions{})

	// no repository at the location: restic's message and exit code 10
	missing := newInteropRepo(t, loc+"-missing", password)
	want, got := missing.both(t, "snapshots")
	compareExact(t, []string{"snapshots", "(missing repository)"}, want, got)
	if got.exit != exitNoRepository {
		t.Errorf("missing repository: exit %d, want %d", got.exit, exitNoRepository)
	}
}

// TestRESTCredentials: a server that requires HTTP basic authentication.
// Wrong or missing credentials fail as in restic (same messages, exit
// code 1) without showing the password; credentials may also come from
// RESTIC_REST_USERNAME and RESTIC_REST_PASSWORD.
func TestRESTCredentials(t *testing.T) {
	resticBin(t)
	s := resttest.StartAuth(t)
	loc, dir := restRepo(t, s) // with user:password@
	const password = "auth test"
	mustRestic(t, resticTestEnv(loc, password), "init")
	cheapen(t, dir, password)

	noCreds := strings.Replace(loc, s.Username+":"+s.Password+"@", "", 1)
	wrongPW := strings.Replace(loc, ":"+s.Password+"@", ":not-the-password@", 1)
	if noCreds == loc || wrongPW == loc {
		t.Fatalf("credentials not found in %s", loc)
	}
	for _, tc := range []struct {
		name, loc string
		args      []string
	}{
		{"wrong password", wrongPW, []string{"snapshots"}},
		{"no credentials", noCreds, []string{"snapshots"}},
		{"wrong password init", wrongPW + "-new", []string{"init"}},
		{"correct", loc, []string{"snapshots"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newInteropRepo(t, tc.loc, password)
			want, got := r.both(t, tc.args...)
			compareExact(t, tc.args, want, got)
			if tc.loc != loc && got.exit != exitError {
				t.Errorf("exit code %d, want %d", got.exit, exitError)
			}
			if bytes.Contains(got.stderr, []byte(s.Password)) || bytes.Contains(got.stdout, []byte(s.Password)) {
				t.Errorf("arca printed the server password:\n%s%s", got.stdout, got.stderr)
			}
		})
	}

	t.Run("environment", func(t *testing.T) {
		t.Setenv("RESTIC_REST_USERNAME", s.Username)
		t.Setenv("RESTIC_REST_PASSWORD", s.Password)
		r := newInteropRepo(t, noCreds, password)
		got := r.arca(t, "snapshots", "--json")
		credEnv := []string{"RESTIC_REST_USERNAME=" + s.Username, "RESTIC_REST_PASSWORD=" + s.Password}
		want, _, exit := runRestic(t, append(resticTestEnv(noCreds, password), credEnv...), "snapshots", "--json")
		if got.exit != 0 || exit != 0 || !bytes.Equal(got.stdout, want) {
			t.Errorf("snapshots with credentials from the environment: arca exit %d, restic exit %d\narca: %s%s\nrestic: %s", got.exit, exit, got.stdout, got.stderr, want)
		}
		// credentials in the URL win over the environment
		t.Setenv("RESTIC_REST_PASSWORD", "not-the-password")
		r = newInteropRepo(t, loc, password)
		if got := r.arca(t, "snapshots", "--json"); got.exit != 0 {
			t.Errorf("URL credentials with a wrong RESTIC_REST_PASSWORD: exit %d\n%s", got.exit, got.stderr)
		}
	})
}

package main

// Interop tests on an S3 repository: the server is started by
// scripts/testservers/start-s3.sh (scripts/test.sh with ARCA_TEST_SERVERS=1
// does that) and found through S3_ENDPOINT, S3_BUCKET and the AWS_*
// variables, which arca (through the SDK) and restic both read. Each test
// uses its own prefix in the bucket.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/backendtest"
	"github.com/arca-backup/arca/backend/location"
	"github.com/arca-backup/arca/backend/s3"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
)

// s3TestRepo returns a fresh repository location on the test S3 server
// (skipping without one) and a backend for looking at it directly.
func s3TestRepo(t *testing.T) (loc string, be backend.Backend) {
	t.Helper()
	endpoint, bucket := os.Getenv("S3_ENDPOINT"), os.Getenv("S3_BUCKET")
	if endpoint == "" || bucket == "" {
		t.Skip("S3_ENDPOINT/S3_BUCKET not set; start a server with scripts/testservers/start-s3.sh")
	}
	if os.Getenv("S3_CA_CERT") != "" {
		t.Skip("S3 over TLS needs --cacert, which arca does not support yet")
	}
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	loc = fmt.Sprintf("s3:%s/%s/cmd-test/%s-%s", endpoint, bucket, strings.ToLower(t.Name()), hex.EncodeToString(r[:]))
	l, err := location.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s3.NewConfig(l.Config.(*location.S3Config), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s3.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backendtest.RemoveAll(t, b) })
	return loc, b
}

// cheapenBackendKey is cheapenKey for a repository on any backend: the only
// key file is replaced by one with cheap scrypt parameters.
func cheapenBackendKey(t *testing.T, be backend.Backend, password string) {
	t.Helper()
	ctx := context.Background()
	var names []string
	if err := be.List(ctx, backend.KeyFile, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 {
		t.Fatalf("cheapen key: want one key file, found %v", names)
	}
	old := backend.Handle{Type: backend.KeyFile, Name: names[0]}
	buf, err := backend.LoadAll(ctx, be, old)
	if err != nil {
		t.Fatal(err)
	}
	kf, err := crypto.ParseKeyFile(buf)
	if err != nil {
		t.Fatal(err)
	}
	master, err := kf.Open(password)
	if err != nil {
		t.Fatal(err)
	}
	cheap, err := crypto.NewKeyFile(master, password, crypto.Params{N: 1 << 10, R: 8, P: 1}, kf.Username, kf.Hostname, kf.Created)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cheap.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	h := backend.Handle{Type: backend.KeyFile, Name: fmt.Sprintf("%x", sha256.Sum256(out))}
	if err := be.Save(ctx, h, backend.NewByteReader(out)); err != nil {
		t.Fatal(err)
	}
	if err := be.Remove(ctx, old); err != nil {
		t.Fatal(err)
	}
}

// listNames returns the names of all files of one type.
func listNames(t *testing.T, be backend.Backend, tpe backend.FileType) []string {
	t.Helper()
	var names []string
	if err := be.List(context.Background(), tpe, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// snapshotIDs parses `snapshots --json` output.
func snapshotIDs(t *testing.T, who string, out []byte) []string {
	t.Helper()
	var snaps []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &snaps); err != nil {
		t.Fatalf("%s snapshots --json: %v\n%s", who, err, out)
	}
	var ids []string
	for _, s := range snaps {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestS3ArcaRepositoryForRestic: arca creates a repository on S3, backs up
// and restores there; restic lists the same snapshot, passes check
// --read-data and restores the same tree.
func TestS3ArcaRepositoryForRestic(t *testing.T) {
	resticBin(t)
	loc, be := s3TestRepo(t)
	const pw = "s3 interop"
	env := map[string]string{"RESTIC_REPOSITORY": loc, "RESTIC_PASSWORD": pw, "RESTIC_CACHE_DIR": t.TempDir()}
	renv := resticTestEnv(loc, pw)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	smallTree(t, src)

	out, errOut, code := runArcaEnv(t, env, "init")
	if code != 0 {
		t.Fatalf("arca init on S3: exit %d\n%s", code, errOut)
	}
	if m := initText.FindStringSubmatch(out); m == nil || m[2] != loc {
		t.Fatalf("arca init printed:\n%s", out)
	}
	if _, errOut, code := runArcaEnv(t, env, "init"); code == 0 {
		t.Fatalf("a second arca init on the same S3 location succeeded")
	} else if !strings.Contains(errOut, "repository master key and config already initialized") {
		t.Errorf("second init: %s", errOut)
	}
	cheapenBackendKey(t, be, pw)

	if _, errOut, code := runArcaEnv(t, env, "backup", src); code != 0 {
		t.Fatalf("arca backup to S3: exit %d\n%s", code, errOut)
	}
	if n := len(listNames(t, be, backend.PackFile)); n == 0 {
		t.Fatalf("no pack files on S3 after the backup")
	}
	if locks := listNames(t, be, backend.LockFile); len(locks) != 0 {
		t.Errorf("locks left on S3 after the backup: %v", locks)
	}
	aout, errOut, code := runArcaEnv(t, env, "snapshots", "--json")
	if code != 0 {
		t.Fatalf("arca snapshots: exit %d\n%s", code, errOut)
	}
	ids := snapshotIDs(t, "arca", []byte(aout))
	if len(ids) != 1 {
		t.Fatalf("arca snapshots: %v, want one", ids)
	}
	if rids := snapshotIDs(t, "restic", mustRestic(t, renv, "snapshots", "--json")); !slices.Equal(ids, rids) {
		t.Errorf("restic snapshots %v, arca snapshots %v", rids, ids)
	}

	mustRestic(t, renv, "check", "--read-data")

	targetA, targetR := filepath.Join(dir, "arca"), filepath.Join(dir, "restic")
	if _, errOut, code := runArcaEnv(t, env, "restore", "latest", "--target", targetA); code != 0 {
		t.Fatalf("arca restore from S3: exit %d\n%s", code, errOut)
	}
	mustRestic(t, renv, "restore", "latest", "--target", targetR)
	compareTrees(t, src, filepath.Join(targetA, src), compareOptions{IgnoreRootMeta: true})
	compareTrees(t, targetR, targetA, compareOptions{IgnoreRootMeta: true})
}

// TestS3ResticRepositoryForArca: arca reads and restores what restic wrote
// on S3, adds a backup of its own, and restic checks the result.
func TestS3ResticRepositoryForArca(t *testing.T) {
	resticBin(t)
	loc, be := s3TestRepo(t)
	const pw = "s3 interop restic"
	env := map[string]string{"RESTIC_REPOSITORY": loc, "RESTIC_PASSWORD": pw, "RESTIC_CACHE_DIR": t.TempDir()}
	renv := resticTestEnv(loc, pw)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	smallTree(t, src)

	mustRestic(t, renv, "init")
	cheapenBackendKey(t, be, pw)
	mustRestic(t, renv, "backup", src)

	aout, errOut, code := runArcaEnv(t, env, "snapshots", "--json")
	if code != 0 {
		t.Fatalf("arca snapshots of restic's S3 repository: exit %d\n%s", code, errOut)
	}
	rids := snapshotIDs(t, "restic", mustRestic(t, renv, "snapshots", "--json"))
	if ids := snapshotIDs(t, "arca", []byte(aout)); len(ids) != 1 || !slices.Equal(ids, rids) {
		t.Fatalf("arca snapshots %v, restic snapshots %v", ids, rids)
	}
	target := filepath.Join(dir, "restored")
	if _, errOut, code := runArcaEnv(t, env, "restore", "latest", "--target", target); code != 0 {
		t.Fatalf("arca restore of restic's S3 repository: exit %d\n%s", code, errOut)
	}
	compareTrees(t, src, filepath.Join(target, src), compareOptions{IgnoreRootMeta: true})

	if err := os.WriteFile(filepath.Join(src, "new.txt"), []byte("written after restic's backup\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runArcaEnv(t, env, "backup", src); code != 0 {
		t.Fatalf("arca backup into restic's S3 repository: exit %d\n%s", code, errOut)
	}
	if ids := snapshotIDs(t, "restic", mustRestic(t, renv, "snapshots", "--json")); len(ids) != 2 {
		t.Errorf("restic sees %d snapshots after arca's backup, want 2", len(ids))
	}
	mustRestic(t, renv, "check", "--read-data")
}

// waitForLock polls the repository until it holds exactly one lock file.
func waitForLock(t *testing.T, be backend.Backend, what string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if locks := listNames(t, be, backend.LockFile); len(locks) == 1 {
			return locks[0]
		} else if len(locks) > 1 {
			t.Fatalf("%s: %d locks, want one: %v", what, len(locks), locks)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never took a lock", what)
	return ""
}

// TestS3Locks: arca's lock on S3 is seen by restic (list locks, cat lock,
// and unlock removes it once its process is gone); restic's lock on S3 is
// seen by arca, whose unlock leaves it alone while restic runs.
func TestS3Locks(t *testing.T) {
	bin := resticBin(t)
	loc, be := s3TestRepo(t)
	const pw = "s3 locks"
	env := map[string]string{"RESTIC_REPOSITORY": loc, "RESTIC_PASSWORD": pw, "RESTIC_CACHE_DIR": t.TempDir()}
	renv := resticTestEnv(loc, pw)
	if _, errOut, code := runArcaEnv(t, env, "init"); code != 0 {
		t.Fatalf("arca init: exit %d\n%s", code, errOut)
	}
	cheapenBackendKey(t, be, pw)

	// arca holds a lock; restic sees it.
	cmd := arcaProcess(t, renv, "backup", "--stdin-filename", "x", "--stdin-from-command", "--", "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	id := waitForLock(t, be, "arca backup")
	if out := string(mustRestic(t, renv, "list", "locks", "--no-lock")); strings.TrimSpace(out) != id {
		t.Errorf("restic list locks = %q, want arca's lock %s", out, id)
	}
	var lk struct {
		Exclusive bool `json:"exclusive"`
		PID       int  `json:"pid"`
	}
	if err := json.Unmarshal(mustRestic(t, renv, "cat", "lock", id, "--no-lock"), &lk); err != nil {
		t.Fatal(err)
	}
	if lk.PID != cmd.Process.Pid || lk.Exclusive {
		t.Errorf("restic cat lock: %+v, want a shared lock of PID %d", lk, cmd.Process.Pid)
	}
	// arca's backup has a non-exclusive lock: restic's exclusive unlock of
	// stale locks keeps it while the process lives.
	mustRestic(t, renv, "unlock")
	if locks := listNames(t, be, backend.LockFile); !slices.Contains(locks, id) {
		t.Errorf("restic unlock removed the live arca lock (left: %v)", locks)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if out := string(mustRestic(t, renv, "unlock")); !strings.Contains(out, "successfully removed 1 locks") {
		t.Errorf("restic unlock after arca was killed: %q", out)
	}
	if locks := listNames(t, be, backend.LockFile); len(locks) != 0 {
		t.Fatalf("locks left after restic unlock: %v", locks)
	}

	// restic holds a lock; arca sees it and cannot take an exclusive one.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rcmd := exec.CommandContext(ctx, bin, "backup", "--stdin-filename", "y", "--stdin-from-command", "--", "sh", "-c", "sleep 4; echo data")
	rcmd.Env = resticTestCommandEnv(t.TempDir(), renv)
	var rout strings.Builder
	rcmd.Stdout, rcmd.Stderr = &rout, &rout
	if err := rcmd.Start(); err != nil {
		t.Fatal(err)
	}
	rid := waitForLock(t, be, "restic backup")
	out, errOut, code := runArcaEnv(t, env, "list", "locks", "--no-lock")
	if code != 0 || strings.TrimSpace(out) != rid {
		t.Errorf("arca list locks = %q (exit %d, %s), want restic's lock %s", out, code, errOut, rid)
	}
	if _, errOut, code := runArcaEnv(t, env, "unlock"); code != 0 {
		t.Errorf("arca unlock: exit %d\n%s", code, errOut)
	}
	if locks := listNames(t, be, backend.LockFile); !slices.Contains(locks, rid) {
		t.Errorf("arca unlock removed restic's live lock (left: %v)", locks)
	}
	if err := rcmd.Wait(); err != nil {
		t.Fatalf("restic backup --stdin-from-command: %v\n%s", err, rout.String())
	}
	if locks := listNames(t, be, backend.LockFile); len(locks) != 0 {
		t.Errorf("locks left after restic's backup: %v", locks)
	}
	if ids := snapshotIDs(t, "restic", mustRestic(t, renv, "snapshots", "--json")); len(ids) != 1 {
		t.Errorf("restic snapshots after its backup: %v", ids)
	}
}

// TestS3OpenErrorsMatchRestic: a missing repository, a missing bucket,
// wrong credentials and unknown options give restic's messages and exit
// codes. (Before a 403 both retry layers report the failed stat, in
// words of their own S3 clients: only the lines from "Fatal:" on are
// compared.)
func TestS3OpenErrorsMatchRestic(t *testing.T) {
	resticBin(t)
	loc, _ := s3TestRepo(t)
	endpoint := os.Getenv("S3_ENDPOINT")
	fromFatal := func(s string) string {
		if i := strings.Index(s, "Fatal:"); i >= 0 {
			return s[i:]
		}
		return s
	}
	cases := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"missing repository", nil, []string{"-r", loc, "snapshots"}},
		{"missing bucket", nil, []string{"-r", "s3:" + endpoint + "/arca-no-such-bucket/repo", "snapshots"}},
		{"wrong secret", map[string]string{"AWS_SECRET_ACCESS_KEY": "wrong-secret-0123456789"}, []string{"-r", loc, "snapshots"}},
		{"unknown option", nil, []string{"-r", loc, "-o", "s3.nonsense=1", "snapshots"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"RESTIC_PASSWORD": "x"}
			var renv []string
			for k, v := range tc.env {
				env[k] = v
				renv = append(renv, k+"="+v)
			}
			_, rerr, rcode := runRestic(t, append(renv, "RESTIC_PASSWORD=x"), tc.args...)
			_, aerr, acode := runArcaEnv(t, env, tc.args...)
			if acode != rcode || fromFatal(aerr) != fromFatal(string(rerr)) {
				t.Errorf("arca: exit %d\n%s\nrestic: exit %d\n%s", acode, aerr, rcode, rerr)
			}
		})
	}
}

// TestS3ForeignLockExpiresByObjectTime: on S3 the object's Last-Modified
// is the backend's clock for lock staleness. A foreign exclusive lock with
// an old timestamp but a fresh object blocks arca; once the object time
// (set behind versitygw's back: its objects are plain files) agrees that
// the lock is old, arca removes it by itself and goes on.
func TestS3ForeignLockExpiresByObjectTime(t *testing.T) {
	dataDir := os.Getenv("S3_DATA_DIR")
	if dataDir == "" || os.Getenv("S3_SERVER") != "versitygw" {
		t.Skip("needs versitygw's plain-file objects (S3_DATA_DIR, S3_SERVER=versitygw)")
	}
	loc, be := s3TestRepo(t)
	const pw = "s3 stale lock"
	env := map[string]string{
		"RESTIC_REPOSITORY": loc, "RESTIC_PASSWORD": pw, "RESTIC_CACHE_DIR": t.TempDir(),
		"ARCA_LOCK_REFRESH_INTERVAL": "1m",
		"ARCA_LOCK_STALE_TIMEOUT":    "10m",
	}
	if _, errOut, code := runArcaEnv(t, env, "init"); code != 0 {
		t.Fatalf("arca init: exit %d\n%s", code, errOut)
	}
	cheapenBackendKey(t, be, pw)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("content"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runArcaEnv(t, env, "backup", src); code != 0 {
		t.Fatalf("arca backup: exit %d\n%s", code, errOut)
	}

	ctx := context.Background()
	r, err := repo.Open(ctx, be, pw, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	buf, _ := (lock.Lock{Time: time.Now().Add(-time.Hour), Exclusive: true, Hostname: "some-other-host", Username: "backup", PID: 4242}).Marshal()
	id, err := r.SaveLock(ctx, buf)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}

	target := t.TempDir()
	if _, errOut, code := runArcaEnv(t, env, "restore", "latest", "--target", target); code != exitLocked {
		t.Fatalf("restore with a fresh foreign exclusive lock on S3: exit %d, want %d\n%s", code, exitLocked, errOut)
	}

	// Where versitygw keeps the object: <data>/<bucket>/<prefix>/locks/<id>.
	l, err := location.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	sc := l.Config.(*location.S3Config)
	objPath := filepath.Join(dataDir, sc.Bucket, filepath.FromSlash(sc.Prefix), "locks", id)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(objPath, old, old); err != nil {
		t.Fatal(err)
	}
	if fi, err := be.Stat(ctx, backend.Handle{Type: backend.LockFile, Name: id}); err != nil || time.Since(fi.ModTime) < 50*time.Minute {
		t.Fatalf("the server does not report the changed object time: %+v, %v", fi, err)
	}
	if _, errOut, code := runArcaEnv(t, env, "restore", "latest", "--target", target); code != 0 {
		t.Fatalf("restore after the lock's object time went old: exit %d\n%s", code, errOut)
	}
	if locks := listNames(t, be, backend.LockFile); len(locks) != 0 {
		t.Errorf("locks left after arca went past the stale lock: %v", locks)
	}
	if _, err := os.Stat(filepath.Join(target, src, "f")); err != nil {
		t.Errorf("restore did not restore the file: %v", err)
	}
}

package engine_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/connect"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/chunker"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
)

const password = "engine-test"

// cheapKDF keeps key derivation fast in tests.
var cheapKDF = crypto.Params{N: 1024, R: 8, P: 1}

// initRepo creates a repository in a temporary directory and returns it
// open, with its location.
func initRepo(t *testing.T) (*engine.Repository, string) {
	t.Helper()
	loc := filepath.Join(t.TempDir(), "repo")
	r, err := engine.Init(context.Background(), loc, engine.InitOptions{
		Options: engine.Options{Password: password},
		Create:  repo.CreateOptions{KDFParams: &cheapKDF},
	})
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r, loc
}

// writeTree creates files (relative path → content) below dir.
func writeTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// randomFiles returns n files of size bytes of random content each.
func randomFiles(seed int64, n, size int) map[string][]byte {
	rnd := rand.New(rand.NewSource(seed))
	files := map[string][]byte{}
	for i := range n {
		buf := make([]byte, size)
		rnd.Read(buf)
		files[filepath.Join("sub", "file"+string(rune('a'+i)))] = buf
	}
	return files
}

// checkRestored compares the files below dir with want.
func checkRestored(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("restored %s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("restored %s differs: %d bytes, want %d", name, len(got), len(data))
		}
	}
}

// resticCheck runs the real restic's check on the repository when
// RESTIC_BIN is set.
func resticCheck(t *testing.T, loc string) {
	t.Helper()
	bin := os.Getenv("RESTIC_BIN")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("RESTIC_BIN is not set")
		}
		t.Log("RESTIC_BIN not set: skipping restic check")
		return
	}
	cmd := exec.Command(bin, "-r", loc, "--no-cache", "check", "--read-data")
	cmd.Env = append(os.Environ(), "RESTIC_PASSWORD="+password)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("restic check: %v\n%s", err, out)
	}
}

func TestBackupListRestore(t *testing.T) {
	ctx := context.Background()
	r, _ := initRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	files := map[string][]byte{
		"a.txt":        []byte("hello\n"),
		"dir/b.txt":    []byte("world\n"),
		"dir/sub/c.md": bytes.Repeat([]byte("arca "), 1000),
	}
	writeTree(t, src, files)

	var done []string
	var mu sync.Mutex
	res, err := r.Backup(ctx, []string{src}, engine.BackupOptions{
		Host: "testhost",
		Tags: []string{"t1"},
		Events: func(ev engine.BackupEvent) {
			if d, ok := ev.(engine.BackupItemDone); ok {
				mu.Lock()
				done = append(done, d.Item)
				mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if res.SnapshotID.IsNull() || res.Parent != nil || res.Partial {
		t.Fatalf("backup result: id %v parent %v partial %v", res.SnapshotID, res.Parent, res.Partial)
	}
	if res.Summary.Files.New != 3 {
		t.Errorf("new files: %d, want 3", res.Summary.Files.New)
	}
	if len(done) < 3 {
		t.Errorf("BackupItemDone events: %v", done)
	}

	snaps, err := r.Snapshots(ctx, repo.SnapshotFilter{Hosts: []string{"testhost"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 1 || snaps[0].ID != res.SnapshotID || snaps[0].Tags[0] != "t1" {
		t.Fatalf("snapshots: %+v", snaps)
	}
	if other, _ := r.Snapshots(ctx, repo.SnapshotFilter{Hosts: []string{"elsewhere"}}, nil); len(other) != 0 {
		t.Errorf("host filter matched %d snapshots", len(other))
	}

	var listed []string
	err = r.List(ctx, res.SnapshotID.Str(), func(e engine.Entry) error {
		if e.Node.Type == "file" {
			listed = append(listed, strings.TrimPrefix(e.Path, filepath.ToSlash(src)+"/"))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	sort.Strings(listed)
	if want := []string{"a.txt", "dir/b.txt", "dir/sub/c.md"}; strings.Join(listed, ",") != strings.Join(want, ",") {
		t.Errorf("listed %v, want %v", listed, want)
	}

	dst := t.TempDir()
	out, err := r.Restore(ctx, "latest", dst, engine.RestoreOptions{Verify: true})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if out.FilesWritten != 3 || out.FilesVerified != 3 {
		t.Errorf("restore wrote %d files, verified %d; want 3", out.FilesWritten, out.FilesVerified)
	}
	checkRestored(t, filepath.Join(dst, src), files)

	// a second backup uses the first as parent and reads nothing again
	res2, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Host: "testhost"})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Parent == nil || res2.Parent.ID != res.SnapshotID {
		t.Fatalf("second backup's parent: %v, want %v", res2.Parent, res.SnapshotID)
	}
	if res2.Summary.Files.Unchanged != 3 || res2.Summary.DataBlobs != 0 {
		t.Errorf("second backup: %d unchanged, %d new data blobs; want 3, 0", res2.Summary.Files.Unchanged, res2.Summary.DataBlobs)
	}
}

// dataPacks counts the complete pack files of a local repository (not
// the temporary files of uploads in progress).
func dataPacks(t *testing.T, loc string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(loc, "data"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(d.Name(), "-tmp-") {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBackupCancelKeepsUploadedData(t *testing.T) {
	r, loc := initRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	files := randomFiles(1, 6, 1536<<10)
	writeTree(t, src, files)
	// every data blob (at least chunker.MinSize) fills a pack of its own,
	// so the first file's blobs reach the repository without waiting for
	// more data: the event handler below holds back the rest of the
	// backup (every other event waits for it), and with larger packs the
	// first file's blobs could lie in two open packs, neither full
	write := repo.WriteOptions{PackSize: chunker.MinSize, Compression: repo.CompressionOff}

	// cancel once the first file is done and a pack has reached the
	// repository: the backup is then stopped in the middle
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	_, err := r.Backup(ctx, []string{src}, engine.BackupOptions{
		Write:           write,
		ReadConcurrency: 1,
		NoScan:          true,
		Events: func(ev engine.BackupEvent) {
			if d, ok := ev.(engine.BackupItemDone); ok && d.Current != nil && d.Current.Type == "file" {
				once.Do(func() {
					start := time.Now()
					defer func() { t.Logf("waited %v for the first pack", time.Since(start)) }()
					deadline := time.Now().Add(20 * time.Second)
					for dataPacks(t, loc) == 0 && time.Now().Before(deadline) {
						time.Sleep(10 * time.Millisecond)
					}
					cancel()
				})
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled backup: err %v, want context.Canceled", err)
	}
	stored := dataPacks(t, loc)
	if stored == 0 {
		t.Fatal("no pack was stored before the cancellation")
	}
	snaps, err := r.Snapshots(context.Background(), repo.SnapshotFilter{}, nil)
	if err != nil || len(snaps) != 0 {
		t.Fatalf("snapshots after a cancelled backup: %d, %v", len(snaps), err)
	}
	// the repository is consistent: every stored pack is indexed
	resticCheck(t, loc)

	// the next backup, through a newly opened repository, reuses the data
	r2, err := engine.Open(context.Background(), loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	res, err := r2.Backup(context.Background(), []string{src}, engine.BackupOptions{Write: write})
	if err != nil {
		t.Fatalf("backup after cancel: %v", err)
	}
	// the snapshot's files have this many distinct chunks
	chunks := map[string]bool{}
	err = r2.List(context.Background(), res.SnapshotID.String(), func(e engine.Entry) error {
		for _, id := range e.Node.Content {
			chunks[id.String()] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("packs kept: %d; the next backup stored %d of %d data blobs", stored, res.Summary.DataBlobs, len(chunks))
	if res.Summary.DataBlobs >= len(chunks) {
		t.Errorf("backup after cancel stored all %d data blobs again: nothing reused", res.Summary.DataBlobs)
	}
	if got := dataPacks(t, loc); got <= stored {
		t.Errorf("packs after the second backup: %d, before %d", got, stored)
	}
	dst := t.TempDir()
	if _, err := r2.Restore(context.Background(), res.SnapshotID.String(), dst, engine.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	checkRestored(t, filepath.Join(dst, src), files)
	resticCheck(t, loc)
}

func TestConcurrentBackupAndRestore(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	files := randomFiles(2, 4, 700<<10)
	writeTree(t, src, files)
	first, err := r.Backup(ctx, []string{src}, engine.BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// change the source, then back it up while restoring the first
	// snapshot and listing, all through the same Repository
	writeTree(t, src, randomFiles(3, 2, 600<<10))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	dst := t.TempDir()
	wg.Add(3)
	go func() {
		defer wg.Done()
		_, err := r.Backup(ctx, []string{src}, engine.BackupOptions{})
		errs <- err
	}()
	go func() {
		defer wg.Done()
		_, err := r.Restore(ctx, first.SnapshotID.String(), dst, engine.RestoreOptions{})
		errs <- err
	}()
	go func() {
		defer wg.Done()
		errs <- r.List(ctx, first.SnapshotID.String(), func(engine.Entry) error { return nil })
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	checkRestored(t, filepath.Join(dst, src), files)
	snaps, err := r.Snapshots(ctx, repo.SnapshotFilter{}, nil)
	if err != nil || len(snaps) != 2 {
		t.Fatalf("snapshots: %d, %v", len(snaps), err)
	}
	// all locks were released
	if entries, _ := os.ReadDir(filepath.Join(loc, "locks")); len(entries) != 0 {
		t.Errorf("%d lock files left", len(entries))
	}
	resticCheck(t, loc)
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "nothing")
	_, err := engine.Open(ctx, missing, engine.Options{Password: password})
	var nr *connect.NoRepositoryError
	if !errors.Is(err, engine.ErrNoRepository) || !errors.As(err, &nr) {
		t.Fatalf("open of a missing repository: %v", err)
	}
	if !strings.Contains(nr.Location, "nothing") {
		t.Errorf("NoRepositoryError.Location = %q", nr.Location)
	}

	_, loc := initRepo(t)
	_, err = engine.Open(ctx, loc, engine.Options{Password: "not the password"})
	if !errors.Is(err, engine.ErrWrongPassword) {
		t.Fatalf("open with a wrong password: %v", err)
	}

	_, err = engine.Open(ctx, "s3:", engine.Options{Password: password})
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("open of an invalid location: %v", err)
	}
	_, err = engine.Open(ctx, loc, engine.Options{Password: password, Backend: connect.Options{Extended: map[string]string{"local.bogus": "1"}}})
	if !errors.As(err, &ce) || !strings.Contains(ce.Msg, "local.bogus") {
		t.Fatalf("open with an unknown option: %v", err)
	}
	asked := false
	r, err := engine.Open(ctx, loc, engine.Options{PasswordFunc: func(context.Context) (string, error) {
		asked = true
		return password, nil
	}})
	if err != nil || !asked {
		t.Fatalf("open with PasswordFunc: asked %v, err %v", asked, err)
	}
	r.Close()
}

func TestLockedAndNoSnapshot(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	if _, err := r.Restore(ctx, "latest", t.TempDir(), engine.RestoreOptions{}); !errors.Is(err, engine.ErrNoSnapshot) {
		t.Fatalf("restore from an empty repository: %v", err)
	}

	// another user of the repository holds an exclusive lock
	other, err := engine.Open(ctx, loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, release, err := other.Lock(ctx, engine.ExclusiveLock)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	writeTree(t, src, map[string][]byte{"f": []byte("x")})
	_, err = r.Backup(ctx, []string{src}, engine.BackupOptions{})
	var le *engine.LockedError
	if !errors.As(err, &le) || !engine.IsLocked(err) {
		t.Fatalf("backup of a locked repository: %v", err)
	}
	if len(le.Locks) == 0 || !le.Locks[0].Lock.Exclusive || le.Locks[0].Lock.PID != os.Getpid() {
		t.Errorf("LockedError names %+v", le.Locks)
	}
	release()
	if _, err := r.Backup(ctx, []string{src}, engine.BackupOptions{}); err != nil {
		t.Fatalf("backup after the lock was released: %v", err)
	}
}

func TestDamagedData(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	src := t.TempDir()
	writeTree(t, src, randomFiles(4, 1, 100<<10))
	res, err := r.Backup(ctx, []string{src}, engine.BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	corruptPacks(t, loc)
	r2, err := engine.Open(ctx, loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	err = r2.List(ctx, res.SnapshotID.String(), func(engine.Entry) error { return nil })
	_, rerr := r2.Restore(ctx, res.SnapshotID.String(), t.TempDir(), engine.RestoreOptions{})
	if !errors.Is(err, engine.ErrDamaged) && !errors.Is(rerr, engine.ErrDamaged) {
		t.Fatalf("reading damaged packs: list %v, restore %v; want ErrDamaged", err, rerr)
	}
}

// TestBackupStartIsTheCommandStart: the summary's backup start is the
// moment the caller gives as Start (restic's command start, before the
// repository is opened), in the snapshot and the result alike, and the
// snapshot's time when no time is given; a given time leaves it alone.
func TestBackupStartIsTheCommandStart(t *testing.T) {
	ctx := context.Background()
	r, _ := initRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, map[string][]byte{"a": []byte("a")})

	start := time.Now().Add(-3 * time.Second).Round(0)
	res, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Start: start})
	if err != nil {
		t.Fatal(err)
	}
	sn := res.Snapshot
	if !sn.Summary.BackupStart.Equal(start) || !res.Summary.BackupStart.Equal(start) {
		t.Errorf("backup start %v (snapshot), %v (result), want %v", sn.Summary.BackupStart, res.Summary.BackupStart, start)
	}
	if !sn.Time.Equal(start) {
		t.Errorf("snapshot time %v, want the start %v", sn.Time, start)
	}
	if !sn.Summary.BackupEnd.After(start.Add(3 * time.Second)) {
		t.Errorf("backup end %v is not after now", sn.Summary.BackupEnd)
	}

	given := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	res, err = r.Backup(ctx, []string{src}, engine.BackupOptions{Start: start, Time: given})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Snapshot.Time.Equal(given) || !res.Snapshot.Summary.BackupStart.Equal(start) {
		t.Errorf("with a time: snapshot time %v, backup start %v; want %v and %v", res.Snapshot.Time, res.Snapshot.Summary.BackupStart, given, start)
	}
}

// slowPacks is a backend whose pack uploads take delay each.
type slowPacks struct {
	backend.Backend
	delay time.Duration
}

func (s slowPacks) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if h.Type == backend.PackFile {
		time.Sleep(s.delay)
	}
	return s.Backend.Save(ctx, h, rd)
}

// TestBackupEndAfterUploads: the summary's backup end (and so its
// duration) comes after the packs are stored, as in restic, not when the
// last tree is done: with slow uploads the backup lasts at least as long
// as they take.
func TestBackupEndAfterUploads(t *testing.T) {
	ctx := context.Background()
	const delay = 400 * time.Millisecond
	r, err := engine.InitBackend(ctx, slowPacks{mem.New(), delay}, engine.InitOptions{
		Options: engine.Options{Password: password},
		Create:  repo.CreateOptions{KDFParams: &cheapKDF},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, map[string][]byte{"a": []byte("a")})
	start := time.Now()
	res, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Start: start})
	if err != nil {
		t.Fatal(err)
	}
	// (the data and the tree pack may upload side by side)
	sn := res.Snapshot.Summary
	for name, d := range map[string]time.Duration{"result": res.Summary.BackupEnd.Sub(res.Summary.BackupStart), "snapshot": sn.BackupEnd.Sub(sn.BackupStart)} {
		if d < delay {
			t.Errorf("%s: backup took %v by its summary, want at least %v", name, d, delay)
		}
	}
}

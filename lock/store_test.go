package lock

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
)

// dirStore keeps lock files as plaintext JSON in a real directory, with real
// file modification times. IDs are hashes over random bytes and the content,
// so they are unique like restic's ciphertext hashes.
type dirStore struct {
	dir     string
	noMtime bool // report zero modification times, as backends without them do
}

func newDirStore(t *testing.T) *dirStore {
	t.Helper()
	return &dirStore{dir: t.TempDir()}
}

func (s *dirStore) path(id string) string { return filepath.Join(s.dir, id) }

func (s *dirStore) SaveLock(ctx context.Context, plaintext []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", err
	}
	sum := sha256.Sum256(append(nonce[:], plaintext...))
	id := hex.EncodeToString(sum[:])
	tmp := filepath.Join(s.dir, ".tmp-"+id)
	if err := os.WriteFile(tmp, plaintext, 0o600); err != nil {
		return "", err
	}
	return id, os.Rename(tmp, s.path(id))
}

func (s *dirStore) LoadLock(ctx context.Context, id string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	buf, err := os.ReadFile(s.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load lock %s: %w", id, backend.ErrNotExist)
	}
	return buf, err
}

func (s *dirStore) ListLocks(ctx context.Context, fn func(string, int64, time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		mt := fi.ModTime()
		if s.noMtime {
			mt = time.Time{}
		}
		if err := fn(e.Name(), fi.Size(), mt); err != nil {
			return err
		}
	}
	return nil
}

func (s *dirStore) RemoveLock(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := os.Remove(s.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove lock %s: %w", id, backend.ErrNotExist)
	}
	return err
}

// files returns the IDs of the lock files in the directory, sorted.
func (s *dirStore) files(t *testing.T) []string {
	t.Helper()
	var ids []string
	err := s.ListLocks(context.Background(), func(id string, _ int64, _ time.Time) error {
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ids)
	return ids
}

// put stores a lock file with the given content and modification time (zero:
// leave the real one) and returns its ID.
func (s *dirStore) put(t *testing.T, content []byte, mtime time.Time) string {
	t.Helper()
	id, err := s.SaveLock(context.Background(), content)
	if err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(s.path(id), mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// putLock stores the JSON of lk.
func (s *dirStore) putLock(t *testing.T, lk Lock, mtime time.Time) string {
	t.Helper()
	buf, err := lk.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return s.put(t, buf, mtime)
}

func (s *dirStore) exists(id string) bool {
	_, err := os.Stat(s.path(id))
	return err == nil
}

var errInjected = errors.New("injected backend failure")

// faultStore wraps a Store and fails operations on demand.
type faultStore struct {
	Store
	failSave   atomic.Bool
	failList   atomic.Int32 // fail this many more ListLocks calls (-1: all)
	failRemove atomic.Bool
	// dropOddLists makes every other ListLocks call return nothing.
	dropOddLists atomic.Bool
	saves        atomic.Int64 // successful SaveLock calls
	lists        atomic.Int64
	// beforeSave, beforeLoad and beforeRemove, when set, run before the
	// operation.
	beforeSave   atomic.Pointer[func()]
	beforeLoad   atomic.Pointer[func(id string)]
	beforeRemove atomic.Pointer[func(id string)]
}

func (f *faultStore) LoadLock(ctx context.Context, id string) ([]byte, error) {
	if fn := f.beforeLoad.Load(); fn != nil {
		(*fn)(id)
	}
	return f.Store.LoadLock(ctx, id)
}

func (f *faultStore) SaveLock(ctx context.Context, plaintext []byte) (string, error) {
	if fn := f.beforeSave.Load(); fn != nil {
		(*fn)()
	}
	if f.failSave.Load() {
		return "", fmt.Errorf("save lock: %w", errInjected)
	}
	id, err := f.Store.SaveLock(ctx, plaintext)
	if err == nil {
		f.saves.Add(1)
	}
	return id, err
}

func (f *faultStore) ListLocks(ctx context.Context, fn func(string, int64, time.Time) error) error {
	if n := f.lists.Add(1); n%2 == 1 && f.dropOddLists.Load() {
		return nil // a listing that ran while files changed and missed them
	}
	for {
		n := f.failList.Load()
		if n == 0 {
			break
		}
		if n < 0 || f.failList.CompareAndSwap(n, n-1) {
			return fmt.Errorf("list locks: %w", errInjected)
		}
	}
	return f.Store.ListLocks(ctx, fn)
}

func (f *faultStore) RemoveLock(ctx context.Context, id string) error {
	if fn := f.beforeRemove.Load(); fn != nil {
		(*fn)(id)
	}
	if f.failRemove.Load() {
		return fmt.Errorf("remove lock: %w", errInjected)
	}
	return f.Store.RemoveLock(ctx, id)
}

// testClock is the system clock with adjustable offsets: a wall clock that
// is wrong, and a monotonic clock that jumps (a suspend).
type testClock struct {
	sys  Clock
	wall atomic.Int64
	mono atomic.Int64
}

func newTestClock() *testClock { return &testClock{sys: SystemClock()} }

func (c *testClock) Now() time.Time { return c.sys.Now().Add(time.Duration(c.wall.Load())) }
func (c *testClock) Monotonic() time.Duration {
	return c.sys.Monotonic() + time.Duration(c.mono.Load())
}

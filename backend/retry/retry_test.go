package retry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/backendtest"
	"github.com/arca-backup/arca/backend/faulty"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/backend/retry"
)

// report records the callbacks.
type report struct {
	mu        sync.Mutex
	retries   []string // "op: err"
	waits     []time.Duration
	failures  []string
	successes map[string]int
}

func (r *report) options(o retry.Options) retry.Options {
	o.Report = func(op string, err error, wait time.Duration) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if wait < 0 {
			r.failures = append(r.failures, op+": "+err.Error())
			return
		}
		r.retries = append(r.retries, op+": "+err.Error())
		r.waits = append(r.waits, wait)
	}
	o.Success = func(op string, retries int) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.successes == nil {
			r.successes = make(map[string]int)
		}
		r.successes[op] = retries
	}
	return o
}

// fast are options for tests: millisecond waits, a short total.
func fast() retry.Options {
	return retry.Options{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, MaxElapsed: 300 * time.Millisecond}
}

func setup(t *testing.T, inner *mem.Backend, o retry.Options) (*faulty.Backend, *retry.Backend, *report) {
	t.Helper()
	if inner == nil {
		inner = mem.New()
	}
	f := faulty.Wrap(inner)
	r := &report{}
	be := retry.Wrap(f, r.options(o))
	t.Cleanup(func() { be.Close() })
	return f, be, r
}

var data = bytes.Repeat([]byte("arca retry test "), 1000)

func pack() backend.Handle {
	return backend.Handle{Type: backend.PackFile, Name: "4a2c5e8d01aabbccddeeff00112233445566778899aabbccddeeff0011223344"}
}

func load(ctx context.Context, be backend.Backend, h backend.Handle) ([]byte, error) {
	var buf []byte
	err := be.Load(ctx, h, 0, 0, func(rd io.Reader) (err error) {
		buf, err = io.ReadAll(rd)
		return err
	})
	return buf, err
}

func TestConformance(t *testing.T) {
	for _, stuck := range []time.Duration{0, time.Minute} {
		o := fast()
		o.StuckTimeout = stuck
		backendtest.Run(t, func(t *testing.T) backend.Backend { return retry.Wrap(mem.New(), o) })
	}
}

func TestSaveRetriesTransientErrors(t *testing.T) {
	f, be, rep := setup(t, nil, fast())
	f.Inject(faulty.Fault{Op: faulty.OpSave, Count: 2})
	h := pack()
	if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if n := f.Calls(faulty.OpSave); n != 3 {
		t.Errorf("Save tried %d times, want 3", n)
	}
	want := "Save(<data/4a2c5e8d01>): injected fault"
	if len(rep.retries) != 2 || rep.retries[0] != want || rep.retries[1] != want {
		t.Errorf("retry reports %q, want twice %q", rep.retries, want)
	}
	for _, w := range rep.waits {
		if w <= 0 || w > 10*time.Millisecond {
			t.Errorf("wait %v outside (0, 10ms]", w)
		}
	}
	if rep.successes["Save(<data/4a2c5e8d01>)"] != 2 || len(rep.failures) != 0 {
		t.Errorf("successes %v, failures %v", rep.successes, rep.failures)
	}
	if got, err := load(context.Background(), be, h); err != nil || !bytes.Equal(got, data) {
		t.Errorf("stored data differs (%v)", err)
	}
}

// TestSaveRewindsAndRemovesPartialFile: a failed upload read part of the
// reader and left part of the file on a backend that refuses to replace
// files. The retry must start the reader over and remove the leftover.
func TestSaveRewindsAndRemovesPartialFile(t *testing.T) {
	inner := mem.NewWithProperties(backend.Properties{Connections: 2, HasAtomicReplace: false})
	f, be, _ := setup(t, inner, fast())
	f.Inject(faulty.Fault{Op: faulty.OpSave, Count: 1, After: 100})
	h := pack()
	if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("Save: %v", err)
	}
	got, err := load(context.Background(), inner, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored %d bytes (%v), want the %d bytes given", len(got), err, len(data))
	}
	if n := f.Calls(faulty.OpRemove); n != 1 {
		t.Errorf("Remove called %d times after a partial upload, want 1", n)
	}
}

// TestSaveLeftoverRemovalStuck: after a failed upload, the removal of
// what it left hangs (the server stopped answering). The stuck timeout
// ends the removal too, and the retry goes ahead.
func TestSaveLeftoverRemovalStuck(t *testing.T) {
	inner := mem.NewWithProperties(backend.Properties{Connections: 2, HasAtomicReplace: false})
	o := fast()
	o.StuckTimeout = 50 * time.Millisecond
	o.MaxElapsed = time.Minute
	f, be, _ := setup(t, inner, o)
	f.Inject(faulty.Fault{Op: faulty.OpSave, Count: 1, After: 100})
	f.Inject(faulty.Fault{Op: faulty.OpRemove, Count: 1, Stall: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := pack()
	if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("Save: %v", err)
	}
	// the second attempt meets the leftover the hung removal kept, and
	// fails; its removal works, and the third attempt stores the file
	if n := f.Calls(faulty.OpSave); n != 3 {
		t.Errorf("Save tried %d times, want 3", n)
	}
	if got, err := load(context.Background(), inner, h); err != nil || !bytes.Equal(got, data) {
		t.Errorf("stored %d bytes (%v), want the %d bytes given", len(got), err, len(data))
	}
}

func TestSaveRewindsWithAtomicReplace(t *testing.T) {
	f, be, _ := setup(t, nil, fast())
	f.Inject(faulty.Fault{Op: faulty.OpSave, Count: 1, After: 1000})
	h := pack()
	rd := backend.NewByteReader(data)
	if _, err := rd.Read(make([]byte, 10)); err != nil { // a reader not at its start
		t.Fatal(err)
	}
	if err := be.Save(context.Background(), h, rd); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if got, _ := load(context.Background(), be, h); !bytes.Equal(got, data) {
		t.Errorf("stored %d bytes, want %d", len(got), len(data))
	}
	if n := f.Calls(faulty.OpRemove); n != 0 {
		t.Errorf("Remove called %d times on a backend with atomic replace", n)
	}
}

func TestNoRetryOfPermanentErrors(t *testing.T) {
	f, be, rep := setup(t, nil, fast())
	denied := &backend.PermanentError{Err: errors.New("unexpected HTTP response (403): 403 Forbidden")}
	f.Inject(faulty.Fault{Op: faulty.OpSave, Err: denied})
	err := be.Save(context.Background(), pack(), backend.NewByteReader(data))
	if !errors.Is(err, denied) {
		t.Fatalf("Save: %v, want the permanent error", err)
	}
	if n := f.Calls(faulty.OpSave); n != 1 {
		t.Errorf("Save tried %d times, want 1", n)
	}
	if len(rep.retries) != 0 || len(rep.failures) != 1 || rep.failures[0] != "Save(<data/4a2c5e8d01>): unexpected HTTP response (403): 403 Forbidden" {
		t.Errorf("reports: retries %q, failures %q", rep.retries, rep.failures)
	}

	// A missing file: Load reports it (as restic does), Stat does not.
	_, err = load(context.Background(), be, pack())
	if !backend.IsNotExist(err) || f.Calls(faulty.OpLoad) != 1 {
		t.Errorf("Load of a missing file: %v after %d calls", err, f.Calls(faulty.OpLoad))
	}
	_, err = be.Stat(context.Background(), pack())
	if !backend.IsNotExist(err) || f.Calls(faulty.OpStat) != 1 {
		t.Errorf("Stat of a missing file: %v after %d calls", err, f.Calls(faulty.OpStat))
	}
	if len(rep.failures) != 2 || !strings.HasPrefix(rep.failures[1], "Load(<data/4a2c5e8d01>, 0, 0): ") {
		t.Errorf("failures %q, want the Save and the Load", rep.failures)
	}
	if len(rep.retries) != 0 {
		t.Errorf("retries reported: %q", rep.retries)
	}
	// A lock file that is gone is not reported.
	_, err = load(context.Background(), be, backend.Handle{Type: backend.LockFile, Name: "aa"})
	if !backend.IsNotExist(err) || len(rep.failures) != 2 {
		t.Errorf("Load of a vanished lock: %v, failures %q", err, rep.failures)
	}
}

func TestNoRetryAfterCancel(t *testing.T) {
	f, be, rep := setup(t, nil, retry.Options{InitialInterval: time.Hour, MaxElapsed: 2 * time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := be.Save(ctx, pack(), backend.NewByteReader(data)); !errors.Is(err, context.Canceled) {
		t.Errorf("Save with a cancelled context: %v", err)
	}
	if n := f.Calls(faulty.OpSave); n != 0 {
		t.Errorf("a cancelled context reached the backend %d times", n)
	}

	// Cancelled while waiting an hour for the retry: returns at once, with
	// the cancellation (as restic's retries do).
	f.Inject(faulty.Fault{Op: faulty.OpRemove})
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		for f.Calls(faulty.OpRemove) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if err := be.Remove(ctx, pack()); !errors.Is(err, context.Canceled) {
		t.Errorf("Remove cancelled during the backoff: %v", err)
	}
	if n := f.Calls(faulty.OpRemove); n != 1 {
		t.Errorf("Remove tried %d times, want 1", n)
	}
	if len(rep.failures) != 0 {
		t.Errorf("failure reported after cancellation: %q", rep.failures)
	}
}

// TestGiveUp: an error that does not go away ends after MaxElapsed with a
// final report; the file's next Load fails at once (circuit breaker).
func TestGiveUp(t *testing.T) {
	inner := mem.New()
	f, be, rep := setup(t, inner, retry.Options{InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond, MaxElapsed: 50 * time.Millisecond})
	h := pack()
	if err := inner.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	f.Inject(faulty.Fault{Op: faulty.OpLoad, After: 10})
	_, err := load(context.Background(), be, h)
	if !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("Load: %v", err)
	}
	tries := f.Calls(faulty.OpLoad)
	if tries < 3 || len(rep.retries) != tries-1 || len(rep.failures) != 1 {
		t.Errorf("%d tries, %d retry reports, %d failure reports", tries, len(rep.retries), len(rep.failures))
	}
	_, err = load(context.Background(), be, h)
	if err == nil || !strings.Contains(err.Error(), "circuit breaker open") || f.Calls(faulty.OpLoad) != tries {
		t.Errorf("second Load: %v after %d more calls", err, f.Calls(faulty.OpLoad)-tries)
	}
	// Other files are not affected.
	other := backend.Handle{Type: backend.IndexFile, Name: "aa"}
	_ = inner.Save(context.Background(), other, backend.NewByteReader([]byte("x")))
	if _, err := be.Stat(context.Background(), other); err != nil {
		t.Errorf("Stat of another file: %v", err)
	}
}

// TestAtLeastOneRetry: even when the first attempt took longer than
// MaxElapsed, there is one retry.
func TestAtLeastOneRetry(t *testing.T) {
	f, be, _ := setup(t, nil, retry.Options{InitialInterval: time.Millisecond, MaxElapsed: time.Nanosecond})
	f.Inject(faulty.Fault{Op: faulty.OpRemove})
	if err := be.Remove(context.Background(), pack()); !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("Remove: %v", err)
	}
	if n := f.Calls(faulty.OpRemove); n != 2 {
		t.Errorf("Remove tried %d times, want 2", n)
	}
}

func TestLoadConsumerErrors(t *testing.T) {
	inner := mem.New()
	f, be, rep := setup(t, inner, fast())
	h := pack()
	_ = inner.Save(context.Background(), h, backend.NewByteReader(data))
	// fn's own error ends Load at once, unchanged and unreported, and does
	// not make the file fail later.
	own := errors.New("cannot write the restored file")
	calls := 0
	err := be.Load(context.Background(), h, 0, 0, func(rd io.Reader) error {
		calls++
		if _, err := io.ReadFull(rd, make([]byte, 10)); err != nil {
			return err
		}
		return own
	})
	if err != own || calls != 1 || f.Calls(faulty.OpLoad) != 1 {
		t.Errorf("Load with a failing consumer: %v after %d consumer calls", err, calls)
	}
	if len(rep.retries)+len(rep.failures) != 0 {
		t.Errorf("consumer error reported: %q %q", rep.retries, rep.failures)
	}
	// A read error that fn passes on is the backend's failure: retried.
	f.Inject(faulty.Fault{Op: faulty.OpLoad, Count: 2, After: 100})
	calls = 0
	err = be.Load(context.Background(), h, 0, 0, func(rd io.Reader) error {
		calls++
		_, err := io.Copy(io.Discard, rd)
		if err != nil {
			return fmt.Errorf("read pack: %w", err)
		}
		return nil
	})
	if err != nil || calls != 3 || len(rep.retries) != 2 {
		t.Errorf("Load with read errors: %v after %d consumer calls, reports %q", err, calls, rep.retries)
	}
}

func TestLoadRetriesBrokenDownload(t *testing.T) {
	inner := mem.New()
	f, be, rep := setup(t, inner, fast())
	h := pack()
	_ = inner.Save(context.Background(), h, backend.NewByteReader(data))
	f.Inject(faulty.Fault{Op: faulty.OpLoad, Count: 1, After: 500})
	got, err := load(context.Background(), be, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Load: %d bytes, %v", len(got), err)
	}
	if f.Calls(faulty.OpLoad) != 2 || len(rep.retries) != 1 || !strings.HasPrefix(rep.retries[0], "Load(<data/4a2c5e8d01>, 0, 0): ") {
		t.Errorf("%d calls, retry reports %q", f.Calls(faulty.OpLoad), rep.retries)
	}
}

func TestListRetryDeliversEachFileOnce(t *testing.T) {
	inner := mem.New()
	f, be, _ := setup(t, inner, fast())
	const n = 10
	for i := 0; i < n; i++ {
		h := backend.Handle{Type: backend.SnapshotFile, Name: strings.Repeat(string(rune('a'+i)), 64)}
		_ = inner.Save(context.Background(), h, backend.NewByteReader([]byte{byte(i)}))
	}
	f.Inject(faulty.Fault{Op: faulty.OpList, Count: 1, After: 4})
	seen := map[string]int{}
	err := be.List(context.Background(), backend.SnapshotFile, func(fi backend.FileInfo) error {
		seen[fi.Name]++
		return nil
	})
	if err != nil || len(seen) != n || f.Calls(faulty.OpList) != 2 {
		t.Fatalf("List: %v, %d files, %d calls", err, len(seen), f.Calls(faulty.OpList))
	}
	for name, c := range seen {
		if c != 1 {
			t.Errorf("%s delivered %d times", name[:4], c)
		}
	}

	// fn's error ends the listing without retries or reports.
	stop := errors.New("stop")
	_, be2, rep := setup(t, inner, fast())
	calls := 0
	err = be2.List(context.Background(), backend.SnapshotFile, func(backend.FileInfo) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 || len(rep.failures)+len(rep.retries) != 0 {
		t.Errorf("List with a failing fn: %v, %d calls, reports %q %q", err, calls, rep.retries, rep.failures)
	}
}

// TestStuckSave: an upload that hangs is cancelled after the stuck
// timeout and retried.
func TestStuckSave(t *testing.T) {
	o := fast()
	o.StuckTimeout = 50 * time.Millisecond
	o.MaxElapsed = time.Minute
	f, be, rep := setup(t, nil, o)
	f.Inject(faulty.Fault{Op: faulty.OpSave, Count: 1, After: 100, Stall: true})
	h := pack()
	if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if n := f.Calls(faulty.OpSave); n != 2 {
		t.Errorf("Save tried %d times, want 2", n)
	}
	if len(rep.retries) != 1 || !strings.HasPrefix(rep.retries[0], "Save(<data/4a2c5e8d01>): request timeout: no progress for 50ms") {
		t.Errorf("retry reports %q", rep.retries)
	}
	if got, _ := load(context.Background(), be, h); !bytes.Equal(got, data) {
		t.Errorf("stored data differs")
	}
}

func TestStuckLoad(t *testing.T) {
	o := fast()
	o.StuckTimeout = 50 * time.Millisecond
	o.MaxElapsed = time.Minute
	inner := mem.New()
	f, be, rep := setup(t, inner, o)
	h := pack()
	_ = inner.Save(context.Background(), h, backend.NewByteReader(data))
	f.Inject(faulty.Fault{Op: faulty.OpLoad, Count: 1, After: 100, Stall: true})
	got, err := load(context.Background(), be, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Load: %d bytes, %v", len(got), err)
	}
	if f.Calls(faulty.OpLoad) != 2 || len(rep.retries) != 1 || !strings.Contains(rep.retries[0], "request timeout") {
		t.Fatalf("%d calls, retry reports %q", f.Calls(faulty.OpLoad), rep.retries)
	}

	// A Stat that hangs is cut off too.
	f.Inject(faulty.Fault{Op: faulty.OpStat, Count: 1, Stall: true})
	if _, err := be.Stat(context.Background(), h); err != nil {
		t.Errorf("Stat after a hanging attempt: %v", err)
	}
}

// slowReader delivers its data in small pieces with pauses.
type slowReader struct {
	*backend.ByteReader
	pause time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	time.Sleep(r.pause)
	return r.ByteReader.Read(p[:min(len(p), 100)])
}

// TestSlowButProgressing: a transfer that takes longer than the stuck
// timeout in all but keeps moving is not cancelled.
func TestSlowButProgressing(t *testing.T) {
	o := fast()
	o.StuckTimeout = 250 * time.Millisecond
	f, be, rep := setup(t, nil, o)
	rd := &slowReader{ByteReader: backend.NewByteReader(data[:3000]), pause: 10 * time.Millisecond}
	start := time.Now()
	if err := be.Save(context.Background(), pack(), rd); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if time.Since(start) < o.StuckTimeout {
		t.Skipf("the transfer took only %v; nothing to test", time.Since(start))
	}
	if n := f.Calls(faulty.OpSave); n != 1 || len(rep.retries) != 0 {
		t.Errorf("Save tried %d times (reports %q), want once", n, rep.retries)
	}
}

// TestTryOnce: operations on the chosen file types are tried once, but
// still under the stuck watchdog.
func TestTryOnce(t *testing.T) {
	o := fast()
	o.StuckTimeout = 50 * time.Millisecond
	o.TryOnce = func(t backend.FileType) bool { return t == backend.LockFile }
	f, be, rep := setup(t, nil, o)
	f.Inject(faulty.Fault{Op: faulty.OpSave, Count: 3})
	lock := backend.Handle{Type: backend.LockFile, Name: "aa"}
	if err := be.Save(context.Background(), lock, backend.NewByteReader(data)); !errors.Is(err, faulty.ErrInjected) {
		t.Errorf("Save of a lock: %v", err)
	}
	if n := f.Calls(faulty.OpSave); n != 1 {
		t.Errorf("Save of a lock tried %d times, want 1", n)
	}
	if err := be.Save(context.Background(), pack(), backend.NewByteReader(data)); err != nil {
		t.Errorf("Save of a pack: %v", err)
	}
	if n := f.Calls(faulty.OpSave); n != 4 {
		t.Errorf("%d Save calls in all, want 1 + 3", n)
	}
	if len(rep.retries) != 2 || len(rep.failures) != 0 {
		t.Errorf("reports: retries %q, failures %q", rep.retries, rep.failures)
	}
	f.Inject(faulty.Fault{Op: faulty.OpList, Stall: true})
	err := be.List(context.Background(), backend.LockFile, func(backend.FileInfo) error { return nil })
	if !errors.Is(err, retry.ErrStuck) || f.Calls(faulty.OpList) != 1 {
		t.Errorf("stuck List of locks: %v after %d calls", err, f.Calls(faulty.OpList))
	}
}

// fileBackend stores through LinkTo or CopyTo when it gets a
// backend.FileSource, as the local backend does, into a temporary file whose contents it then
// keeps in memory.
type fileBackend struct {
	*mem.Backend
	dir     string
	sources atomic.Int64
}

func (b *fileBackend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	src, ok := rd.(backend.FileSource)
	if !ok {
		return b.Backend.Save(ctx, h, rd)
	}
	b.sources.Add(1)
	if ls, ok := src.(backend.LinkableSource); ok {
		name := filepath.Join(b.dir, fmt.Sprintf("link-%d", b.sources.Load()))
		if linked, err := ls.LinkTo(name); err != nil {
			return err
		} else if linked {
			buf, err := os.ReadFile(name)
			if err != nil {
				return err
			}
			return b.Backend.Save(ctx, h, backend.NewByteReader(buf))
		}
	}
	f, err := os.CreateTemp(b.dir, "save")
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := src.CopyTo(f, ctx.Err); err != nil {
		return err
	}
	buf, err := os.ReadFile(f.Name())
	if err != nil {
		return err
	}
	return b.Backend.Save(ctx, h, backend.NewByteReader(buf))
}

// TestFileSourceUnderWatch: the stuck watchdog passes a backend.FileSource
// on (so the local backend can copy in the kernel) and still watches it:
// a copy that keeps moving piece by piece is not cancelled, one that
// stops is cut off and retried.
func TestFileSourceUnderWatch(t *testing.T) {
	o := fast()
	o.StuckTimeout = 250 * time.Millisecond
	o.MaxElapsed = time.Minute
	inner := &fileBackend{Backend: mem.New(), dir: t.TempDir()}
	rep := &report{}
	be := retry.Wrap(inner, rep.options(o))
	t.Cleanup(func() { be.Close() })

	slow := backendtest.NewFileSource(t, data[:3000], 100)
	slow.Pause = 10 * time.Millisecond // 30 pieces: 300 ms in all
	h := pack()
	if err := be.Save(context.Background(), h, slow); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if inner.sources.Load() != 1 || slow.Copies.Load() != 1 || len(rep.retries) != 0 {
		t.Fatalf("%d file sources, %d copies, retries %q; want one of each and none", inner.sources.Load(), slow.Copies.Load(), rep.retries)
	}
	if got, _ := load(context.Background(), be, h); !bytes.Equal(got, data[:3000]) {
		t.Fatal("stored data differs")
	}

	o.StuckTimeout = 50 * time.Millisecond
	be2 := retry.Wrap(inner, rep.options(o))
	t.Cleanup(func() { be2.Close() })
	stuck := backendtest.NewFileSource(t, data, 1000)
	stuck.StallFirst = 300 * time.Millisecond
	h2 := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("5", 64)}
	if err := be2.Save(context.Background(), h2, stuck); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if stuck.Copies.Load() != 2 || len(rep.retries) != 1 || !strings.Contains(rep.retries[0], "no progress") {
		t.Fatalf("%d copies, retries %q; want 2 and one for no progress", stuck.Copies.Load(), rep.retries)
	}
	if got, _ := load(context.Background(), be2, h2); !bytes.Equal(got, data) {
		t.Fatal("stored data differs after the retry")
	}
}

// TestLinkableSourceUnderWatch: under the stuck watchdog a source that
// can be linked is still linked rather than copied.
func TestLinkableSourceUnderWatch(t *testing.T) {
	o := fast()
	o.StuckTimeout = 250 * time.Millisecond
	inner := &fileBackend{Backend: mem.New(), dir: t.TempDir()}
	be := retry.Wrap(inner, (&report{}).options(o))
	t.Cleanup(func() { be.Close() })
	src := backendtest.NewFileSource(t, data[:4000], 100)
	src.Linkable = true
	h := pack()
	if err := be.Save(context.Background(), h, src); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if src.Links.Load() != 1 || src.Copies.Load() != 0 {
		t.Fatalf("%d links, %d copies; want one link", src.Links.Load(), src.Copies.Load())
	}
	if got, _ := load(context.Background(), be, h); !bytes.Equal(got, data[:4000]) {
		t.Fatal("stored data differs")
	}
}

package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fastOpts are short timings: refresh every 40 ms, stale after 400 ms,
// fence after 300 ms without refresh.
func fastOpts() Options {
	return Options{
		RefreshInterval:   40 * time.Millisecond,
		StaleTimeout:      400 * time.Millisecond,
		Margin:            100 * time.Millisecond,
		CheckDelay:        10 * time.Millisecond,
		BackendRetryDelay: 5 * time.Millisecond,
		RetrySleepStart:   10 * time.Millisecond,
		RetrySleepMax:     40 * time.Millisecond,
		UnlockTimeout:     5 * time.Second,
	}
}

func newLocker(t *testing.T, s Store, o Options) *Locker {
	t.Helper()
	if o.Logf == nil {
		o.Logf = func(format string, args ...any) { t.Logf(time.Now().Format("15:04:05.000 ")+format, args...) }
	}
	l, err := NewLocker(s, o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func acquire(t *testing.T, l *Locker, exclusive bool) *Held {
	t.Helper()
	h, err := l.Acquire(context.Background(), exclusive)
	if err != nil {
		t.Fatalf("acquire (exclusive=%v): %v", exclusive, err)
	}
	t.Cleanup(func() { _ = h.Release(context.Background()) })
	return h
}

func release(t *testing.T, h *Held) {
	t.Helper()
	if err := h.Release(context.Background()); err != nil {
		t.Fatalf("release: %v", err)
	}
}

func wantConflict(t *testing.T, err error) *ConflictError {
	t.Helper()
	var ce *ConflictError
	if !errors.As(err, &ce) || !IsConflict(err) {
		t.Fatalf("want a conflict, got %v", err)
	}
	if !strings.HasPrefix(err.Error(), "unable to create lock in backend: repository is already locked ") {
		t.Fatalf("message: %q", err.Error())
	}
	return ce
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func hostname(t *testing.T) string {
	t.Helper()
	hn, err := os.Hostname()
	if err != nil {
		t.Skip("no hostname")
	}
	return hn
}

func foreign(ts time.Time, exclusive bool) Lock {
	return Lock{Time: ts, Exclusive: exclusive, Hostname: "other-host.invalid", Username: "bob", PID: 4242, UID: 1000, GID: 1000}
}

// deadPID returns the PID of a child process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run a child process: %v", err)
	}
	return cmd.Process.Pid
}

func find(infos []Info, id string) *Info {
	for i := range infos {
		if infos[i].ID == id {
			return &infos[i]
		}
	}
	return nil
}

func TestSharedAndExclusive(t *testing.T) {
	s := newDirStore(t)
	a, b, c := newLocker(t, s, fastOpts()), newLocker(t, s, fastOpts()), newLocker(t, s, fastOpts())

	s1 := acquire(t, a, false)
	s2 := acquire(t, b, false) // shared locks coexist
	_, err := c.Acquire(context.Background(), true)
	ce := wantConflict(t, err)
	// Both holders, one possibly with two files in the middle of a refresh.
	if len(ce.Locks) < 2 || !ce.Exclusive {
		t.Fatalf("conflict should name both shared locks: %s", ce.Detail())
	}
	if strings.Contains(err.Error(), "exclusively") {
		t.Fatalf("shared holders are not exclusive: %v", err)
	}
	// (Transiently a holder has two files while it refreshes.)
	eventually(t, 5*time.Second, "the failed attempt's file to go", func() bool { return len(s.files(t)) == 2 })
	release(t, s1)
	release(t, s2)
	if got := s.files(t); len(got) != 0 {
		t.Fatalf("release left files: %v", got)
	}

	x := acquire(t, c, true)
	_, err = a.Acquire(context.Background(), false)
	ce = wantConflict(t, err)
	if !strings.Contains(err.Error(), "locked exclusively by PID ") || ce.Locks[0].ID != x.ID() {
		t.Fatalf("got %v", err)
	}
	if _, err := b.Acquire(context.Background(), true); !IsConflict(err) {
		t.Fatalf("exclusive vs exclusive: %v", err)
	}
	release(t, x)
	acquire(t, a, false)
}

func TestStaleDeadPIDSameHost(t *testing.T) {
	s := newDirStore(t)
	l := newLocker(t, s, fastOpts())
	pid := deadPID(t)
	lk := foreign(time.Now(), true)
	lk.Hostname, lk.PID = hostname(t), pid
	dead := s.putLock(t, lk, time.Time{})
	// The same dead PID on another host says nothing: that lock is live.
	lk.Hostname = "other-host.invalid"
	other := s.putLock(t, lk, time.Time{})

	infos, err := l.Inspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if in := find(infos, dead); in == nil || !in.Stale || !strings.Contains(in.Reason, "no longer exists") {
		t.Fatalf("dead PID on this host: %+v", in)
	}
	if in := find(infos, other); in == nil || in.Stale {
		t.Fatalf("other host: %+v", in)
	}

	_, err = l.Acquire(context.Background(), false)
	ce := wantConflict(t, err)
	if len(ce.Locks) != 1 || ce.Locks[0].ID != other {
		t.Fatalf("only the other host's lock should conflict: %+v", ce.Locks)
	}
	if err := s.RemoveLock(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	acquire(t, l, true)
	if s.exists(dead) {
		t.Fatal("stale lock of a dead process was not removed")
	}
	// Our own (live) PID is never stale.
	lk.Hostname, lk.PID = hostname(t), os.Getpid()
	mine := s.putLock(t, lk, time.Time{})
	infos, _ = l.Inspect(context.Background())
	if in := find(infos, mine); in == nil || in.Stale {
		t.Fatalf("live PID: %+v", in)
	}
}

// TestStaleLockGoneBeforeRemoval: a holder that deletes its lock and exits
// between the scan that read the lock and the removal looks like a dead
// process; its lock is gone, not stale, and no removal is reported. A lock
// of a dead process that is still there is removed and reported.
func TestStaleLockGoneBeforeRemoval(t *testing.T) {
	for _, vanish := range []bool{true, false} {
		t.Run(fmt.Sprintf("vanish=%v", vanish), func(t *testing.T) {
			ds := newDirStore(t)
			fs := &faultStore{Store: ds}
			var mu sync.Mutex
			var logged []string
			o := fastOpts()
			o.Logf = func(format string, args ...any) {
				mu.Lock()
				logged = append(logged, fmt.Sprintf(format, args...))
				mu.Unlock()
			}
			l := newLocker(t, fs, o)
			lk := foreign(time.Now(), false)
			lk.Hostname, lk.PID = hostname(t), deadPID(t)
			dead := ds.putLock(t, lk, time.Time{})
			// The lock is read by the scan before our lock is written, by
			// the scan after the check delay, and once more just before
			// its removal; it vanishes on that third read.
			var loads atomic.Int32
			hook := func(id string) {
				if id == dead && loads.Add(1) == 3 && vanish {
					_ = ds.RemoveLock(context.Background(), id)
				}
			}
			fs.beforeLoad.Store(&hook)

			release(t, acquire(t, l, true))
			if ds.exists(dead) {
				t.Fatal("the dead process's lock is still there")
			}
			if n := loads.Load(); n != 3 {
				t.Fatalf("the lock was read %d times, want 3 (two scans, one check before removal)", n)
			}
			mu.Lock()
			defer mu.Unlock()
			reported := false
			for _, m := range logged {
				reported = reported || strings.Contains(m, "removed stale lock "+shortID(dead))
			}
			if reported == vanish {
				t.Errorf("removal reported %v for a lock that vanished %v; log: %q", reported, vanish, logged)
			}
		})
	}
}

func TestForeignHostFreshBlocksOldRemoved(t *testing.T) {
	s := newDirStore(t)
	l := newLocker(t, s, fastOpts())
	fresh := s.putLock(t, foreign(time.Now(), false), time.Time{})
	_, err := l.Acquire(context.Background(), true)
	wantConflict(t, err)
	if !s.exists(fresh) || len(s.files(t)) != 1 {
		t.Fatal("conflicting attempt must leave the other lock alone and remove its own")
	}

	// Once both its timestamp and its file time are past the stale timeout
	// it is removed.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(s.path(fresh), old, old); err != nil {
		t.Fatal(err)
	}
	buf, _ := foreign(old, false).Marshal()
	if err := os.WriteFile(s.path(fresh), buf, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(s.path(fresh), old, old); err != nil {
		t.Fatal(err)
	}
	h := acquire(t, l, true)
	if s.exists(fresh) {
		t.Fatal("stale lock not removed")
	}
	eventually(t, 5*time.Second, "only our file", func() bool {
		got := s.files(t)
		return len(got) == 1 && got[0] == h.ID()
	})
}

// A holder whose clock is hours behind writes old timestamps; the file time
// shows the lock is fresh, so it must not expire.
func TestTimestampOldButFileNew(t *testing.T) {
	s := newDirStore(t)
	l := newLocker(t, s, fastOpts())
	id := s.putLock(t, foreign(time.Now().Add(-5*time.Hour), true), time.Time{})
	infos, err := l.Inspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	in := find(infos, id)
	if in == nil || in.Stale || !strings.Contains(in.Reason, "clock skew") {
		t.Fatalf("%+v", in)
	}
	_, err = l.Acquire(context.Background(), false)
	wantConflict(t, err)

	// The file time old but the timestamp fresh: not stale either.
	old := time.Now().Add(-time.Hour)
	id2 := s.putLock(t, foreign(time.Now(), true), old)
	infos, _ = newLocker(t, s, fastOpts()).Inspect(context.Background())
	if in := find(infos, id2); in == nil || in.Stale {
		t.Fatalf("%+v", in)
	}
}

// A timestamp in the future is not "fresh forever": the file time decides.
func TestTimestampInFuture(t *testing.T) {
	s := newDirStore(t)
	l := newLocker(t, s, fastOpts())
	future := time.Now().Add(3 * time.Hour)
	young := s.putLock(t, foreign(future, true), time.Time{})
	old := s.putLock(t, foreign(future, true), time.Now().Add(-time.Hour))
	infos, err := l.Inspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if in := find(infos, young); in == nil || in.Stale || !strings.Contains(in.Reason, "future") {
		t.Fatalf("future timestamp, new file: %+v", in)
	}
	if in := find(infos, old); in == nil || !in.Stale || !strings.Contains(in.Reason, "future") {
		t.Fatalf("future timestamp, old file: %+v", in)
	}
}

// Without file times, a lock with a timestamp in the future expires once
// this Locker has watched it unchanged for ObserveTimeout; --retry-lock
// waits for that.
func TestFutureTimestampExpiresByObservation(t *testing.T) {
	s := newDirStore(t)
	s.noMtime = true
	o := fastOpts()
	o.RetryLock = 5 * time.Second
	var notified atomic.Int32
	o.OnLocked = func(err *ConflictError, retry time.Duration) { notified.Add(1) }
	l := newLocker(t, s, o)
	id := s.putLock(t, foreign(time.Now().Add(24*time.Hour), true), time.Time{})

	start := time.Now()
	h := acquire(t, l, true)
	waited := time.Since(start)
	if s.exists(id) {
		t.Fatal("lock not removed")
	}
	if waited < o.StaleTimeout {
		t.Fatalf("expired after %v, before being watched for %v", waited, o.StaleTimeout)
	}
	if notified.Load() != 1 {
		t.Fatalf("OnLocked called %d times", notified.Load())
	}
	release(t, h)
}

func TestObservationRule(t *testing.T) {
	s := newDirStore(t)
	s.noMtime = true
	o := fastOpts()
	l := newLocker(t, s, o)
	ctx := context.Background()

	// First listing, then a lock appears whose timestamp is ancient (its
	// holder's clock is behind). It was seen appearing, so it is young
	// whatever its timestamp says.
	if _, err := l.Inspect(ctx); err != nil {
		t.Fatal(err)
	}
	id := s.putLock(t, foreign(time.Now().Add(-10*time.Hour), true), time.Time{})
	infos, _ := l.Inspect(ctx)
	in := find(infos, id)
	if in == nil || in.Stale || !in.MaxAgeKnown || in.Observed != 0 {
		t.Fatalf("first sight: %+v", in)
	}
	// A Locker that did not see it appear has only the timestamp (no file
	// time): restic's rule calls it stale.
	fresh := newLocker(t, s, o)
	infos, _ = fresh.Inspect(ctx)
	if in := find(infos, id); in == nil || !in.Stale {
		t.Fatalf("timestamp-only verdict: %+v", in)
	}

	// Watched past RefreshInterval+Margin: suspect, still live.
	time.Sleep(o.RefreshInterval + o.Margin + 20*time.Millisecond)
	infos, _ = l.Inspect(ctx)
	in = find(infos, id)
	if in == nil || in.Stale || !strings.Contains(in.Reason, "suspect") || in.Observed <= o.RefreshInterval+o.Margin {
		t.Fatalf("suspect: %+v", in)
	}
	// Watched past ObserveTimeout (= StaleTimeout): stale.
	time.Sleep(o.StaleTimeout - o.RefreshInterval - o.Margin)
	infos, _ = l.Inspect(ctx)
	in = find(infos, id)
	if in == nil || !in.Stale || !strings.Contains(in.Reason, "watched") {
		t.Fatalf("observed: %+v", in)
	}
	removed, err := l.RemoveStale(ctx, false)
	if err != nil || len(removed) != 1 || removed[0].ID != id || s.exists(id) {
		t.Fatalf("remove stale: %v %+v", err, removed)
	}
}

// Our wall clock two hours ahead must not expire a live lock: the file time
// is compared with the backend's own clock (our lock's file time).
func TestOurClockAhead(t *testing.T) {
	s := newDirStore(t)
	o := fastOpts()
	clk := newTestClock()
	clk.wall.Store(int64(2 * time.Hour))
	o.Clock = clk
	l := newLocker(t, s, o)
	other := s.putLock(t, foreign(time.Now(), true), time.Time{})
	_, err := l.Acquire(context.Background(), false)
	ce := wantConflict(t, err)
	if ce.Locks[0].ID != other || !ce.Locks[0].ModTimeAnchored || ce.Locks[0].AgeByModTime > time.Minute {
		t.Fatalf("%+v", ce.Locks[0])
	}
	if !s.exists(other) {
		t.Fatal("live lock removed")
	}
}

func TestRefreshReplacesLock(t *testing.T) {
	s := newDirStore(t)
	l := newLocker(t, s, fastOpts())
	h := acquire(t, l, true)
	seen := map[string]bool{h.ID(): true}
	eventually(t, 5*time.Second, "three refreshes", func() bool {
		seen[h.ID()] = true
		files := s.files(t)
		if len(files) > 2 {
			t.Fatalf("more than two lock files during refresh: %v", files)
		}
		return len(seen) >= 4
	})
	// Between refreshes exactly one file, ours.
	eventually(t, 5*time.Second, "a single current lock file", func() bool {
		id := h.ID()
		files := s.files(t)
		return len(files) == 1 && files[0] == id
	})
	if h.Err() != nil || h.Context().Err() != nil {
		t.Fatalf("lock lost: %v", h.Err())
	}
	lk := h.Lock()
	if !lk.Exclusive || lk.PID != os.Getpid() {
		t.Fatalf("%+v", lk)
	}
	release(t, h)
	if files := s.files(t); len(files) != 0 {
		t.Fatalf("left %v", files)
	}
	if !errors.Is(context.Cause(h.Context()), ErrReleased) || !errors.Is(h.Err(), ErrReleased) {
		t.Fatalf("cause %v", context.Cause(h.Context()))
	}
}

// When refreshes fail, the context is cancelled before the lock could be
// considered stale (StaleTimeout after the last successful refresh), with a
// cause that says why; nothing is written afterwards.
func TestRefreshFailureFences(t *testing.T) {
	fs := &faultStore{Store: newDirStore(t)}
	o := fastOpts()
	o.StaleTimeout = time.Second
	o.Margin = 300 * time.Millisecond
	l := newLocker(t, fs, o)
	h := acquire(t, l, false)
	eventually(t, 5*time.Second, "a refresh", func() bool { return fs.saves.Load() >= 3 })

	failFrom := time.Now()
	fs.failSave.Store(true)
	select {
	case <-h.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not fenced")
	}
	after := time.Since(failFrom)
	if after >= o.StaleTimeout {
		t.Fatalf("fenced %v after refreshes began to fail, not before the stale timeout %v", after, o.StaleTimeout)
	}
	if after < o.StaleTimeout-o.Margin-o.RefreshInterval {
		t.Fatalf("fenced too early: %v", after)
	}
	cause := context.Cause(h.Context())
	if !errors.Is(cause, ErrLost) || !strings.Contains(cause.Error(), errInjected.Error()) || !errors.Is(h.Err(), ErrLost) {
		t.Fatalf("cause %v", cause)
	}
	fs.failSave.Store(false)
	saves := fs.saves.Load()
	if err := h.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * o.RefreshInterval)
	if fs.saves.Load() != saves {
		t.Fatal("lock written after loss")
	}
	if files := fs.Store.(*dirStore).files(t); len(files) != 0 {
		t.Fatalf("left %v", files)
	}
}

// A lock removed by someone else (unlock --remove-all) is lost at the next
// refresh.
func TestRemovedExternallyFences(t *testing.T) {
	s := newDirStore(t)
	l := newLocker(t, s, fastOpts())
	h := acquire(t, l, true)

	other := newLocker(t, s, fastOpts())
	would, err := other.RemoveAll(context.Background(), true)
	if err != nil || len(would) != 1 || !s.exists(would[0].ID) {
		t.Fatalf("dry run: %v %+v", err, would)
	}
	if _, err := other.RemoveAll(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not fenced")
	}
	cause := context.Cause(h.Context())
	if !errors.Is(cause, ErrLost) || !strings.Contains(cause.Error(), "removed") {
		t.Fatalf("cause %v", cause)
	}
	release(t, h)
	time.Sleep(3 * fastOpts().RefreshInterval)
	if files := s.files(t); len(files) != 0 {
		t.Fatalf("written after loss: %v", files)
	}
}

// A suspend longer than StaleTimeout−Margin (the monotonic clock jumps)
// fences the lock at once.
func TestSuspendFences(t *testing.T) {
	s := newDirStore(t)
	o := fastOpts()
	o.RefreshInterval = time.Second // no refresh during the test
	o.StaleTimeout = 10 * time.Second
	o.Margin = 2 * time.Second
	clk := newTestClock()
	o.Clock = clk
	l := newLocker(t, s, o)
	h := acquire(t, l, true)
	time.Sleep(50 * time.Millisecond)
	if h.Err() != nil {
		t.Fatal(h.Err())
	}
	clk.mono.Store(int64(9 * time.Second))
	select {
	case <-h.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not fenced after suspend")
	}
	if !errors.Is(context.Cause(h.Context()), ErrLost) {
		t.Fatal(context.Cause(h.Context()))
	}
}

func TestRetryLockWaitsForRelease(t *testing.T) {
	s := newDirStore(t)
	a := newLocker(t, s, fastOpts())
	held := acquire(t, a, true)

	o := fastOpts()
	o.RetryLock = 5 * time.Second
	var msgs []string
	o.OnLocked = func(err *ConflictError, retry time.Duration) { msgs = append(msgs, RetryMessage(retry)) }
	b := newLocker(t, s, o)
	go func() {
		time.Sleep(150 * time.Millisecond)
		_ = held.Release(context.Background())
	}()
	start := time.Now()
	h, err := b.Acquire(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 150*time.Millisecond {
		t.Fatal("acquired while the exclusive lock was held")
	}
	if len(msgs) != 1 || msgs[0] != "repo already locked, waiting up to 5s for the lock\n" {
		t.Fatalf("messages %q", msgs)
	}
	release(t, h)

	// With a retry time that runs out, the conflict is returned.
	held = acquire(t, a, true)
	o.RetryLock = 100 * time.Millisecond
	c := newLocker(t, s, o)
	start = time.Now()
	_, err = c.Acquire(context.Background(), true)
	wantConflict(t, err)
	if time.Since(start) < o.RetryLock {
		t.Fatal("gave up before the retry time")
	}
	release(t, held)
}

// Two processes race for an exclusive lock in many rounds: exactly one wins
// each round (restic would let both give up when they see each other),
// with a check delay and on a consistent store without one.
func TestRaceExclusive(t *testing.T) {
	for _, consistent := range []bool{false, true} {
		t.Run(fmt.Sprintf("consistent=%v", consistent), func(t *testing.T) { raceExclusive(t, consistent) })
	}
}

func raceExclusive(t *testing.T, consistent bool) {
	for _, kinds := range [][2]bool{{true, true}, {true, false}} {
		s := newDirStore(t)
		o := fastOpts()
		o.CheckDelay = 20 * time.Millisecond
		if consistent {
			o.CheckDelay, o.ConsistentList = 0, true
		}
		lockers := [2]*Locker{newLocker(t, s, o), newLocker(t, s, o)}
		for round := range 40 {
			var start, wg sync.WaitGroup
			start.Add(1)
			var held [2]*Held
			var errs [2]error
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					start.Wait()
					held[i], errs[i] = lockers[i].Acquire(context.Background(), kinds[i])
				}()
			}
			start.Done()
			wg.Wait()
			won := 0
			for i := range 2 {
				if errs[i] == nil {
					won++
				} else if !IsConflict(errs[i]) {
					t.Fatalf("round %d: %v", round, errs[i])
				}
			}
			if won != 1 {
				t.Fatalf("round %d (exclusive %v): %d winners, errors %v", round, kinds, won, errs)
			}
			for _, h := range held {
				if h != nil {
					release(t, h)
				}
			}
			if files := s.files(t); len(files) != 0 {
				t.Fatalf("round %d: left %v", round, files)
			}
		}
	}
}

// With --retry-lock, racing holders all get the lock in turn and never hold
// it at the same time, with a check delay and on a consistent store
// without one.
func TestRaceWithRetryMutualExclusion(t *testing.T) {
	for _, consistent := range []bool{false, true} {
		t.Run(fmt.Sprintf("consistent=%v", consistent), func(t *testing.T) { raceWithRetry(t, consistent) })
	}
}

func raceWithRetry(t *testing.T, consistent bool) {
	s := newDirStore(t)
	o := fastOpts()
	o.CheckDelay = 15 * time.Millisecond
	if consistent {
		o.CheckDelay, o.ConsistentList = 0, true
	}
	o.RetryLock = 20 * time.Second
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for i := range 3 {
		l := newLocker(t, s, o)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 4 {
				h, err := l.Acquire(context.Background(), true)
				if err != nil {
					t.Errorf("locker %d: %v", i, err)
					return
				}
				n := inside.Add(1)
				for {
					m := maxInside.Load()
					if n <= m || maxInside.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond)
				inside.Add(-1)
				if err := h.Release(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if maxInside.Load() != 1 {
		t.Fatalf("%d holders at once", maxInside.Load())
	}
}

func TestEmptyAndUndecodableLocks(t *testing.T) {
	s := newDirStore(t)
	l := newLocker(t, s, fastOpts())
	empty := s.put(t, nil, time.Time{})
	h := acquire(t, l, true) // empty files are ignored, as restic does
	release(t, h)
	if !s.exists(empty) {
		t.Fatal("empty file removed by acquire")
	}
	if got, _ := l.RemoveStale(context.Background(), false); len(got) != 0 {
		t.Fatalf("unlock removed %+v", got)
	}

	garbage := s.put(t, []byte("not json"), time.Time{})
	_, err := l.Acquire(context.Background(), false)
	if !IsInvalidLock(err) || IsConflict(err) {
		t.Fatalf("fresh undecodable lock: %v", err)
	}
	// Once its file time is past the stale timeout it is removed (by a
	// Locker that did not see the file appear a moment ago; l knows it is
	// young whatever its file time says).
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(s.path(garbage), old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(context.Background(), false); !IsInvalidLock(err) {
		t.Fatalf("young undecodable lock with an old file time: %v", err)
	}
	l = newLocker(t, s, fastOpts())
	h = acquire(t, l, false)
	if s.exists(garbage) {
		t.Fatal("old undecodable lock not removed")
	}
	release(t, h)

	all, err := l.RemoveAll(context.Background(), false)
	if err != nil || len(all) != 1 || all[0].ID != empty || s.exists(empty) {
		t.Fatalf("remove all: %v %+v", err, all)
	}
}

func TestRemoveStaleDryRun(t *testing.T) {
	s := newDirStore(t)
	m := newLocker(t, s, fastOpts())
	mine := acquire(t, m, false)
	old := time.Now().Add(-time.Hour)
	stale := s.putLock(t, foreign(old, true), old)
	live := s.putLock(t, foreign(time.Now(), false), time.Time{})
	l := newLocker(t, s, fastOpts())

	would, err := l.RemoveStale(context.Background(), true)
	if err != nil || len(would) != 1 || would[0].ID != stale || would[0].Reason == "" {
		t.Fatalf("dry run: %v %+v", err, would)
	}
	if !s.exists(stale) {
		t.Fatal("dry run removed")
	}
	infos, err := l.Inspect(context.Background())
	if err != nil || find(infos, stale) == nil || find(infos, live) == nil {
		t.Fatalf("inspect: %v %+v", err, infos)
	}
	if in := find(infos, mine.ID()); in == nil || in.Own || in.Stale {
		t.Fatalf("other locker's live lock: %+v", in)
	}
	minfos, _ := m.Inspect(context.Background())
	if in := find(minfos, mine.ID()); in == nil || !in.Own || in.Stale {
		t.Fatalf("own: %+v", in)
	}
	if in := find(minfos, stale); in == nil || in.Stale || !in.MaxAgeKnown {
		t.Fatalf("m saw the file appear, so it is young whatever its times say: %+v", in)
	}
	for _, in := range infos {
		if in.String() == "" || in.Reason == "" {
			t.Fatalf("no description: %+v", in)
		}
	}
	removed, err := l.RemoveStale(context.Background(), false)
	if err != nil || len(removed) != 1 || s.exists(stale) || !s.exists(live) {
		t.Fatalf("remove: %v %+v", err, removed)
	}
	all, err := m.RemoveAll(context.Background(), true)
	if err != nil || len(all) != 1 || all[0].ID != live {
		t.Fatalf("remove all dry run (own lock excluded): %v %+v", err, all)
	}
}

// Listing fails twice; acquire retries like restic and succeeds.
func TestBackendErrorsRetried(t *testing.T) {
	fs := &faultStore{Store: newDirStore(t)}
	l := newLocker(t, fs, fastOpts())
	fs.failList.Store(2)
	h := acquire(t, l, true)
	release(t, h)

	fs.failList.Store(-1)
	_, err := l.Acquire(context.Background(), true)
	if !errors.Is(err, errInjected) || IsConflict(err) {
		t.Fatalf("persistent failure: %v", err)
	}
	fs.failList.Store(0)

	fs.failSave.Store(true)
	if _, err := l.Acquire(context.Background(), true); !errors.Is(err, errInjected) {
		t.Fatalf("save failure: %v", err)
	}
}

// Cancelling the context given to Acquire stops the refresh and removes the
// lock, as in restic.
func TestParentCancelRemovesLock(t *testing.T) {
	s := newDirStore(t)
	l := newLocker(t, s, fastOpts())
	ctx, cancel := context.WithCancel(context.Background())
	h, err := l.Acquire(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	eventually(t, 5*time.Second, "lock removed", func() bool { return len(s.files(t)) == 0 })
	if err := h.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(h.Err(), context.Canceled) {
		t.Fatal(h.Err())
	}
}

func TestOptions(t *testing.T) {
	t.Setenv(EnvRefreshInterval, "10s")
	t.Setenv(EnvStaleTimeout, "1m")
	t.Setenv(EnvCheckDelay, "2s")
	o, err := OptionsFromEnv(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if o.RefreshInterval != 10*time.Second || o.StaleTimeout != time.Minute || o.CheckDelay != 2*time.Second {
		t.Fatalf("%+v", o)
	}
	l, err := NewLocker(newDirStore(t), o)
	if err != nil {
		t.Fatal(err)
	}
	eff := l.Options()
	if eff.Margin != 15*time.Second || eff.ObserveTimeout != time.Minute {
		t.Fatalf("derived %+v", eff)
	}

	t.Setenv(EnvStaleTimeout, "soon")
	if _, err := OptionsFromEnv(DefaultOptions()); err == nil || !strings.Contains(err.Error(), EnvStaleTimeout) {
		t.Fatalf("bad duration: %v", err)
	}
	if _, err := NewLocker(newDirStore(t), Options{RefreshInterval: time.Minute, StaleTimeout: time.Minute}); err == nil {
		t.Fatal("stale timeout below refresh interval accepted")
	}
	if _, err := NewLocker(newDirStore(t), Options{ObserveTimeout: time.Minute}); err == nil {
		t.Fatal("observe timeout below the fence deadline accepted")
	}
	d := DefaultOptions()
	if d.StaleTimeout-d.Margin != 22*time.Minute+30*time.Second {
		t.Fatalf("default fence deadline %v", d.StaleTimeout-d.Margin)
	}
}

// Our file disappears between the refresh's first check and the write of
// the replacement (someone judged it stale and removed it): the check after
// the write notices, the lock is lost and the replacement removed.
func TestRemovedDuringRefresh(t *testing.T) {
	ds := newDirStore(t)
	fs := &faultStore{Store: ds}
	l := newLocker(t, fs, fastOpts())
	h := acquire(t, l, true)
	var once sync.Once
	hook := func() {
		once.Do(func() { _ = ds.RemoveLock(context.Background(), h.ID()) })
	}
	fs.beforeSave.Store(&hook)
	select {
	case <-h.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not fenced")
	}
	if cause := context.Cause(h.Context()); !errors.Is(cause, ErrLost) || !strings.Contains(cause.Error(), "removed") {
		t.Fatalf("cause %v", cause)
	}
	release(t, h)
	if files := ds.files(t); len(files) != 0 {
		t.Fatalf("replacement left behind: %v", files)
	}
}

// The holder of a stale lock revives it (restic's refreshStaleLock writes a
// replacement) just as we remove the stale file: the check after the removal
// sees the replacement and we back off.
func TestStaleHolderRevives(t *testing.T) {
	ds := newDirStore(t)
	fs := &faultStore{Store: ds}
	old := time.Now().Add(-time.Hour)
	stale := ds.putLock(t, foreign(old, true), old)
	var revived string
	hook := func(id string) {
		if id == stale && revived == "" {
			revived = ds.putLock(t, foreign(time.Now(), true), time.Time{})
		}
	}
	fs.beforeRemove.Store(&hook)
	l := newLocker(t, fs, fastOpts())
	_, err := l.Acquire(context.Background(), false)
	ce := wantConflict(t, err)
	if revived == "" || ce.Locks[0].ID != revived || ds.exists(stale) {
		t.Fatalf("conflict %+v, revived %s", ce.Locks, revived)
	}
	if files := ds.files(t); len(files) != 1 || files[0] != revived {
		t.Fatalf("files %v", files)
	}
}

// A listing may miss files that change while it runs (a holder refreshing);
// every scan takes two listings, so a single incomplete one hides nothing.
func TestIncompleteListing(t *testing.T) {
	ds := newDirStore(t)
	fs := &faultStore{Store: ds}
	holder := acquire(t, newLocker(t, ds, fastOpts()), false)
	fs.dropOddLists.Store(true)
	l := newLocker(t, fs, fastOpts())
	for range 3 {
		infos, err := l.Inspect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) == 0 {
			t.Fatal("lock missed")
		}
	}
	_, err := l.Acquire(context.Background(), true)
	if ce := wantConflict(t, err); ce.Locks[0].Lock.PID != holder.Lock().PID {
		t.Fatalf("%+v", ce.Locks)
	}
}

// TestOnWritten: the hook runs once per attempt, after the attempt's own
// file exists and before Acquire returns; an exclusive lock that appears
// after it (during the check delay) makes the attempt fail, so reads begun
// after the hook are never used under a lock that was not granted.
func TestOnWritten(t *testing.T) {
	s := newDirStore(t)
	o := fastOpts()
	var calls atomic.Int32
	var filesAtCall int
	o.OnWritten = func() {
		calls.Add(1)
		filesAtCall = len(s.files(t))
	}
	a := newLocker(t, s, o)
	h := acquire(t, a, false)
	if calls.Load() != 1 || filesAtCall != 1 {
		t.Fatalf("hook called %d times, %d lock files at the call; want 1 and 1", calls.Load(), filesAtCall)
	}
	release(t, h)

	// a foreign exclusive lock (a restic in its own check delay) written
	// while ours waits
	calls.Store(0)
	var foreignID string
	o.OnWritten = func() {
		calls.Add(1)
		foreignID = s.putLock(t, foreign(time.Now(), true), time.Time{})
	}
	_, err := newLocker(t, s, o).Acquire(context.Background(), false)
	if !IsConflict(err) || calls.Load() != 1 {
		t.Fatalf("got %v after %d hook calls, want a conflict after one", err, calls.Load())
	}
	if err := os.Remove(s.path(foreignID)); err != nil {
		t.Fatal(err)
	}

	other := newLocker(t, s, fastOpts())
	// a conflict found before writing: no hook call
	x := acquire(t, other, true)
	calls.Store(0)
	o.OnWritten = func() { calls.Add(1) }
	if _, err := newLocker(t, s, o).Acquire(context.Background(), false); !IsConflict(err) || calls.Load() != 0 {
		t.Fatalf("got %v after %d hook calls, want a conflict and none", err, calls.Load())
	}
	release(t, x)
}

// TestAcquireNotify: the hook given to AcquireNotify is called in place of
// Options.OnWritten, once the attempt's own file exists; one Locker serves
// callers with different hooks, and a foreign exclusive lock written
// after the hook refuses the lock.
func TestAcquireNotify(t *testing.T) {
	s := newDirStore(t)
	o := fastOpts()
	var optionHook atomic.Int32
	o.OnWritten = func() { optionHook.Add(1) }
	l := newLocker(t, s, o)
	var calls, filesAtCall int
	h, err := l.AcquireNotify(context.Background(), false, func() {
		calls++
		filesAtCall = len(s.files(t))
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || filesAtCall != 1 || optionHook.Load() != 1 {
		t.Fatalf("hook called %d times with %d lock files, option hook %d times; want 1, 1, 1", calls, filesAtCall, optionHook.Load())
	}
	release(t, h)

	var foreignID string
	_, err = l.AcquireNotify(context.Background(), false, func() {
		foreignID = s.putLock(t, foreign(time.Now(), true), time.Time{})
	})
	if !IsConflict(err) {
		t.Fatalf("got %v, want a conflict", err)
	}
	if err := os.Remove(s.path(foreignID)); err != nil {
		t.Fatal(err)
	}
	// plain Acquire calls the option's hook (the conflicting attempt
	// above called it too)
	release(t, acquire(t, l, false))
	if optionHook.Load() != 3 {
		t.Fatalf("option hook called %d times, want 3", optionHook.Load())
	}
}

// TestCheckDelayDefault: a zero CheckDelay is restic's 200 ms, or none on a
// consistent store; a CheckDelay that is set applies either way.
func TestCheckDelayDefault(t *testing.T) {
	for _, tc := range []struct {
		delay      time.Duration
		consistent bool
		want       time.Duration
	}{
		{0, false, DefaultCheckDelay},
		{0, true, 0},
		{50 * time.Millisecond, true, 50 * time.Millisecond},
		{50 * time.Millisecond, false, 50 * time.Millisecond},
	} {
		o := DefaultOptions()
		o.CheckDelay, o.ConsistentList = tc.delay, tc.consistent
		got, err := o.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		if got.CheckDelay != tc.want {
			t.Errorf("CheckDelay %v, consistent %v: %v, want %v", tc.delay, tc.consistent, got.CheckDelay, tc.want)
		}
		if tc.consistent && tc.delay == 0 && got.tieWindow() != consistentTieWindow {
			t.Errorf("tie window without a delay: %v", got.tieWindow())
		}
	}
}

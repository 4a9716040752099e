package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Held is a lock this process holds. It refreshes itself in the background
// until Release, and fences itself: Context is cancelled, with a cause
// wrapping ErrLost, when the lock is lost.
type Held struct {
	l      *Locker
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the goroutines ended and files were removed

	releaseErr error // set before done is closed

	mu      sync.Mutex
	id      string        // current lock file
	lock    Lock          // its content
	lastOK  time.Duration // monotonic time just before the current file was written
	lastErr error         // last refresh error, for the loss message
	ended   bool          // released or lost: nothing more may be written
	orphans []string      // older files of ours whose removal failed
}

// errEnded stops a refresh that found the lock already released or lost.
var errEnded = errors.New("lock ended")

func (l *Locker) newHeld(parent context.Context, id string, lk Lock, writtenFrom time.Duration) *Held {
	ctx, cancel := context.WithCancelCause(parent)
	h := &Held{l: l, ctx: ctx, cancel: cancel, done: make(chan struct{}), id: id, lock: lk, lastOK: writtenFrom}
	go h.run()
	return h
}

// Context returns a context derived from the one given to Acquire. It is
// cancelled when the lock is released or lost; context.Cause tells which
// (ErrReleased, or an error wrapping ErrLost with the reason). Operations
// under the lock must use it for every write.
func (h *Held) Context() context.Context { return h.ctx }

// ID returns the ID of the current lock file; it changes on every refresh.
func (h *Held) ID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.id
}

// Lock returns the content of the current lock file.
func (h *Held) Lock() Lock {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lock
}

// Err returns nil while the lock is held, else why it is not (ErrReleased,
// an error wrapping ErrLost, or the cancellation cause of Acquire's context).
func (h *Held) Err() error {
	if h.ctx.Err() == nil {
		return nil
	}
	return context.Cause(h.ctx)
}

// Release stops refreshing, cancels Context and removes the lock file. It
// waits until nothing more will be written (bounded by UnlockTimeout) unless
// ctx ends first. It may be called more than once and after a loss.
func (h *Held) Release(ctx context.Context) error {
	h.mu.Lock()
	first := !h.ended
	h.ended = true
	h.mu.Unlock()
	if first {
		h.cancel(ErrReleased)
	}
	select {
	case <-h.done:
		return h.releaseErr
	case <-ctx.Done():
		return fmt.Errorf("lock: release: %w", ctx.Err())
	}
}

// lose ends the lock with cause, cancelling Context.
func (h *Held) lose(cause error) {
	h.mu.Lock()
	if h.ended {
		h.mu.Unlock()
		return
	}
	h.ended = true
	h.mu.Unlock()
	h.cancel(cause)
	h.l.logf("lock: %v", cause)
}

// pollInterval is how often the monitor and the refresher look at the clock.
// Go timers stop during suspend, so they poll instead of sleeping long.
func (o Options) pollInterval() time.Duration {
	return max(min(time.Second, o.RefreshInterval/10), time.Millisecond)
}

func (h *Held) run() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.monitor()
	}()
	h.refresher()
	wg.Wait()

	// Both goroutines have ended: remove our files.
	h.mu.Lock()
	h.ended = true
	ids := append([]string{h.id}, h.orphans...)
	h.orphans = nil
	h.mu.Unlock()
	var firstErr error
	for _, id := range ids {
		if err := h.l.removeDetached(h.ctx, id); err != nil {
			h.l.logf("lock: error while unlocking: %v", err)
			if firstErr == nil {
				firstErr = err
			}
		}
		h.l.dropOwn(id)
	}
	h.releaseErr = firstErr
	close(h.done)
}

// monitor fences the lock when no refresh has succeeded for
// StaleTimeout−Margin on the monotonic clock.
func (h *Held) monitor() {
	o := h.l.opts
	limit := o.fenceAfter()
	t := time.NewTicker(o.pollInterval())
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		elapsed := o.Clock.Monotonic() - h.lastOK
		lastErr := h.lastErr
		h.mu.Unlock()
		if elapsed >= limit {
			why := "no refresh attempt finished"
			if lastErr != nil {
				why = "last error: " + lastErr.Error()
			}
			h.lose(fmt.Errorf("%w: not refreshed for %v, others may consider it stale after %v (%s)",
				ErrLost, elapsed.Round(time.Millisecond), o.StaleTimeout, why))
			return
		}
	}
}

// refresher replaces the lock file every RefreshInterval, retrying failed
// attempts every RefreshInterval/5, until the context ends.
func (h *Held) refresher() {
	o := h.l.opts
	clk := o.Clock
	retry := max(o.RefreshInterval/5, time.Millisecond)
	t := time.NewTicker(o.pollInterval())
	defer t.Stop()
	failedAt, failed := time.Duration(0), false
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		now := clk.Monotonic()
		h.mu.Lock()
		due := now-h.lastOK >= o.RefreshInterval && (!failed || now-failedAt >= retry)
		h.mu.Unlock()
		if !due {
			continue
		}
		err := h.refresh()
		if h.ctx.Err() != nil {
			return
		}
		if err != nil {
			failedAt, failed = clk.Monotonic(), true
			h.mu.Lock()
			h.lastErr = err
			h.mu.Unlock()
			h.l.logf("lock: unable to refresh lock: %v", err)
			continue
		}
		failed = false
	}
}

// refresh replaces the lock file as restic refreshes a stale lock: check our
// file exists, write a new one, wait, check the old one still exists, remove
// it. A file of ours found missing loses the lock.
func (h *Held) refresh() error {
	l, ctx, clk := h.l, h.ctx, h.l.opts.Clock
	h.mu.Lock()
	cur, lk := h.id, h.lock
	h.mu.Unlock()

	if err := h.checkPresent(ctx, cur); err != nil {
		return err
	}

	from := clk.Monotonic()
	lk.Time = clk.Now()
	buf, err := lk.Marshal()
	if err != nil {
		return err
	}
	h.mu.Lock()
	ended := h.ended
	h.mu.Unlock()
	if ended || ctx.Err() != nil {
		return errEnded
	}
	newID, err := l.store.SaveLock(ctx, buf)
	if err != nil {
		return fmt.Errorf("lock: writing lock file: %w", err)
	}
	l.addOwn(newID, clk.Monotonic())
	drop := func(err error) error {
		if rerr := l.removeDetached(ctx, newID); rerr != nil {
			l.logf("lock: %v", rerr)
		}
		l.dropOwn(newID)
		return err
	}

	if err := sleep(ctx, l.opts.CheckDelay); err != nil {
		return drop(err)
	}
	if err := h.checkPresent(ctx, cur); err != nil {
		return drop(err)
	}

	h.mu.Lock()
	if h.ended {
		h.mu.Unlock()
		return drop(errEnded)
	}
	h.id, h.lock, h.lastOK, h.lastErr = newID, lk, from, nil
	h.orphans = append(h.orphans, cur)
	orphans := h.orphans
	h.mu.Unlock()

	var keep []string
	for _, id := range orphans {
		if err := l.remove(ctx, id); err != nil {
			l.logf("lock: %v", err)
			keep = append(keep, id)
			continue
		}
		l.dropOwn(id)
	}
	h.mu.Lock()
	h.orphans = append(keep, h.orphans[len(orphans):]...)
	h.mu.Unlock()
	return nil
}

// checkPresent lists the locks and loses the lock when the file id is
// missing.
func (h *Held) checkPresent(ctx context.Context, id string) error {
	files, err := h.l.list(ctx)
	if err != nil {
		return err
	}
	for _, f := range files {
		if f.id == id {
			return nil
		}
	}
	h.lose(fmt.Errorf("%w: lock file %s was removed by another process (unlock --remove-all, or judged stale, e.g. after a suspend)",
		ErrLost, shortID(id)))
	return errEnded
}

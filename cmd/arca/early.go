package main

// Reading while the lock is confirmed.
//
// Taking a lock costs a fixed wait: write the lock file, wait the check
// delay (200 ms, as restic), list the locks again. A command that only
// adds to the repository (backup) can read in that time: once its lock
// file is written, any conflicting holder that starts later sees it, and
// one that was there before is found by the second check, which then
// fails the command. So the command reads from the moment its lock file
// is written; its writes wait behind a gate until the lock is granted,
// and its output is held back so that a refused lock prints exactly what
// it prints without the overlap.

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/writegate"
	"github.com/arca-backup/arca/lock"
)

// openSessionEarly opens the repository and starts taking the lock like
// openSession, but returns once the lock file is written, before the
// check delay has passed. Until s.confirm is called and succeeds the
// session may only read: backend writes (other than the lock's) wait, and
// stdout and stderr are held. s.confirm waits for the lock and returns its
// error; s.ctx is cancelled when the lock is refused or lost. With
// --retry-lock (several attempts) or without a lock this is openSession.
func (a *app) openSessionEarly(ctx context.Context, mode lockMode) (*session, error) {
	if mode == lockNone || (a.opts.NoLock && mode == lockShared) || a.opts.RetryLock > 0 {
		s, err := a.openSession(ctx, mode)
		if err != nil {
			return nil, err
		}
		s.confirm = func() error { return nil }
		return s, nil
	}
	var gate *writegate.Backend
	r, err := a.openRepositoryWrapped(ctx, func(be backend.Backend) backend.Backend {
		gate = writegate.Wrap(be)
		return gate
	})
	if err != nil {
		return nil, err
	}
	closeRepo := func() {
		r.Close()
		r.Backend().Close()
	}
	opts, err := a.lockOptions()
	if err != nil {
		closeRepo()
		return nil, err
	}
	// the lock's own messages (restic's "repo already locked", warnings
	// about stale locks) are printed as without the overlap: before
	// anything printed while the lock was pending, and also when the
	// lock is refused
	var (
		lockMsgMu sync.Mutex
		lockMsgs  []func()
		decidedAt bool
	)
	queue := func(f func()) {
		lockMsgMu.Lock()
		defer lockMsgMu.Unlock()
		if decidedAt {
			f()
			return
		}
		lockMsgs = append(lockMsgs, f)
	}
	replay := func() {
		lockMsgMu.Lock()
		defer lockMsgMu.Unlock()
		decidedAt = true
		for _, f := range lockMsgs {
			f()
		}
		lockMsgs = nil
	}
	if f := opts.OnLocked; f != nil {
		opts.OnLocked = func(ce *lock.ConflictError, retry time.Duration) { queue(func() { f(ce, retry) }) }
	}
	if f := opts.Logf; f != nil {
		opts.Logf = func(format string, args ...any) { queue(func() { f(format, args...) }) }
	}
	written := make(chan struct{})
	var writtenOnce sync.Once
	opts.OnWritten = func() { writtenOnce.Do(func() { close(written) }) }
	type outcome struct {
		held *lock.Held
		err  error
	}
	result := make(chan outcome, 1)
	go func() {
		h, err := r.Lock(ctx, mode == lockExclusive, opts)
		result <- outcome{h, err}
	}()
	var first *outcome
	select {
	case <-written:
	case o := <-result:
		replay()
		if o.err != nil {
			closeRepo()
			return nil, o.err
		}
		first = &o
	}

	out, errOut := holdOutput(&a.stdout), holdOutput(&a.stderr)
	opCtx, cancelOp := context.WithCancelCause(ctx)
	s := &session{repo: r, ctx: opCtx}
	// the decision is taken as soon as the lock is: readers and writers
	// waiting on the gate or the context must not wait for confirm
	decided := make(chan outcome, 1)
	stopWatch := func() bool { return false }
	decide := func(o outcome) {
		if o.err != nil {
			gate.Fail(o.err)
			cancelOp(o.err)
		} else {
			gate.Open()
			stopWatch = context.AfterFunc(o.held.Context(), func() { cancelOp(context.Cause(o.held.Context())) })
			heldOut, heldErr := out.take(), errOut.take()
			replay()
			out.release(heldOut)
			errOut.release(heldErr)
		}
		decided <- o
	}
	if first != nil {
		decide(*first)
	} else {
		go func() { decide(<-result) }()
	}
	var (
		confirmOnce sync.Once
		held        *lock.Held
		lockErr     error
	)
	s.confirm = func() error {
		confirmOnce.Do(func() {
			o := <-decided
			held, lockErr = o.held, o.err
			if lockErr != nil {
				// what was printed while the lock was pending is
				// dropped: restic prints nothing before a refused lock
				out.take()
				errOut.take()
				out.release(nil)
				errOut.release(nil)
				replay()
				return
			}
			a.lockCtx = held.Context()
		})
		return lockErr
	}
	s.done = func() {
		_ = s.confirm()
		stopWatch()
		cancelOp(nil)
		if held != nil {
			a.releaseLock(held)
		}
		closeRepo()
	}
	return s, nil
}

// heldWriter holds back what is written to it until release (then writes
// it and passes everything through) or discard (then drops it and passes
// everything through).
type heldWriter struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	holding bool
}

// holdOutput puts a heldWriter in place of *w.
func holdOutput(w *io.Writer) *heldWriter {
	h := &heldWriter{w: *w, holding: true}
	*w = h
	return h
}

func (h *heldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.holding {
		h.buf = append(h.buf, p...)
		return len(p), nil
	}
	return h.w.Write(p)
}

// take removes and returns what is held so far; the writer keeps holding.
func (h *heldWriter) take() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.buf
	h.buf = nil
	return b
}

// release writes what is held now, then after (taken earlier), and passes
// everything through from then on.
func (h *heldWriter) release(after []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.holding {
		for _, b := range [][]byte{h.buf, after} {
			if len(b) > 0 {
				_, _ = h.w.Write(b)
			}
		}
	}
	h.buf, h.holding = nil, false
}

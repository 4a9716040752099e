// Package retry wraps a Backend so that operations failing with transient
// errors are tried again, with exponential backoff, as restic does.
//
// Every operation is tried until it succeeds, fails with a permanent error
// (backend.IsPermanent: missing file, bad credentials, ...), the caller's
// context ends, or the total time since the first attempt would exceed
// MaxElapsed; at least one retry happens in any case. Save rewinds its
// reader before every attempt, and on backends without atomic replace
// removes what a failed attempt may have left before trying again. Load and
// Save that make no progress for StuckTimeout (restic's
// --stuck-request-timeout) are cancelled and retried. A Load that used up
// its retries makes later Loads of the same file fail at once for a while
// (a circuit breaker), so one unreadable file does not cost the full retry
// time again and again.
//
// The wrapper prints nothing: it reports each retry, each final failure and
// each success after retries through callbacks.
package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arca-backup/arca/backend"
)

// Options configure the retries. The zero value of a field means its
// default from DefaultOptions.
type Options struct {
	// MaxElapsed bounds the time from the first attempt after which no
	// further attempt starts (restic: 15 minutes).
	MaxElapsed time.Duration
	// InitialInterval is the first wait (1s); each further wait is
	// Multiplier (2) times longer, up to MaxInterval (1 min), varied at
	// random by ±Randomization (0.5) of itself.
	InitialInterval time.Duration
	MaxInterval     time.Duration
	Multiplier      float64
	Randomization   float64
	// StuckTimeout cancels and retries a Load or Save that moves no data
	// for this long, and any other operation that takes longer. Zero (or
	// negative) turns the watchdog off.
	StuckTimeout time.Duration
	// FailedLoadExpiry is how long a file whose Load used up all retries
	// fails at once (1 hour).
	FailedLoadExpiry time.Duration

	// Report is called before each retry with the operation (restic's
	// form: "Save(<data/4a2c5e8d01>)"), the error and the wait, and once
	// with a negative wait when the operation finally fails (not when the
	// caller's context ended, nor for a Stat of a missing file or a Load
	// of a lock file that is gone).
	Report func(op string, err error, wait time.Duration)
	// Success is called when an operation succeeds after retries.
	Success func(op string, retries int)

	// TryOnce, when it returns true for a file type, makes operations on
	// such files a single attempt (still under the stuck watchdog), with
	// no reports: for callers that retry on a schedule of their own, such
	// as the lock package, whose self-fencing deadlines must not be
	// overrun by retries underneath.
	TryOnce func(t backend.FileType) bool
}

// DefaultOptions returns restic's settings, without the watchdog.
func DefaultOptions() Options {
	return Options{
		MaxElapsed:       15 * time.Minute,
		InitialInterval:  time.Second,
		MaxInterval:      time.Minute,
		Multiplier:       2,
		Randomization:    0.5,
		FailedLoadExpiry: time.Hour,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.MaxElapsed <= 0 {
		o.MaxElapsed = d.MaxElapsed
	}
	if o.InitialInterval <= 0 {
		o.InitialInterval = d.InitialInterval
	}
	if o.MaxInterval <= 0 {
		o.MaxInterval = d.MaxInterval
	}
	if o.Multiplier < 1 {
		o.Multiplier = d.Multiplier
	}
	if o.Randomization < 0 || o.Randomization >= 1 {
		o.Randomization = d.Randomization
	}
	if o.FailedLoadExpiry <= 0 {
		o.FailedLoadExpiry = d.FailedLoadExpiry
	}
	return o
}

// ErrStuck is wrapped by the error of an attempt the watchdog cancelled.
var ErrStuck = errors.New("request timeout")

// Backend retries the operations of the backend it wraps.
type Backend struct {
	be   backend.Backend
	opts Options

	failedLoads sync.Map // backend.Handle -> time.Time
}

var _ backend.Backend = (*Backend)(nil)

// Wrap returns be with retries configured by opts.
func Wrap(be backend.Backend, opts Options) *Backend {
	return &Backend{be: be, opts: opts.withDefaults()}
}

// Unwrap returns the wrapped backend.
func (b *Backend) Unwrap() backend.Backend { return b.be }

// Location returns the wrapped backend's location.
func (b *Backend) Location() string { return b.be.Location() }

// Properties returns the wrapped backend's properties.
func (b *Backend) Properties() backend.Properties { return b.be.Properties() }

// Close closes the wrapped backend.
func (b *Backend) Close() error { return b.be.Close() }

// Create is not retried: it must fail when a repository exists, and a
// retry after a lost answer would see the repository the first try made.
func (b *Backend) Create(ctx context.Context) error { return b.be.Create(ctx) }

// backoff yields the waits between attempts.
type backoff struct {
	opts     Options
	start    time.Time
	interval time.Duration
	tries    int
}

// next returns the wait before the next attempt, or false when the time is up.
func (bo *backoff) next() (time.Duration, bool) {
	bo.tries++
	d := bo.interval
	if r := bo.opts.Randomization; r > 0 {
		delta := r * float64(d)
		d = time.Duration(float64(d) - delta + rand.Float64()*(2*delta+1))
	}
	bo.interval = min(time.Duration(float64(bo.interval)*bo.opts.Multiplier), bo.opts.MaxInterval)
	if time.Since(bo.start)+d > bo.opts.MaxElapsed {
		if bo.tries > 1 {
			return 0, false
		}
		// Retry at least once, even when the first attempt took all the time.
		d = bo.opts.InitialInterval
	}
	return d, true
}

// attempt is one try of an operation; progress keeps a stuck watchdog
// quiet, stuck tells whether the watchdog has cancelled the attempt.
type attempt struct {
	ctx      context.Context
	progress func()
	stuck    *atomic.Bool
}

// reader returns rd reporting progress to a's watchdog.
func (a attempt) reader(rd io.Reader) progressReader {
	return progressReader{rd: rd, progress: a.progress, stuck: a.stuck}
}

// retry runs f, an operation on files of type t, until it succeeds or
// retrying must stop. quiet decides which final errors are not reported.
func (b *Backend) retry(ctx context.Context, t backend.FileType, op string, quiet func(error) bool, f func(a attempt) error) error {
	// A cancelled context never reaches the backend, so nothing changes in
	// the repository after cancellation.
	if err := ctx.Err(); err != nil {
		return err
	}
	bo := &backoff{opts: b.opts, start: time.Now(), interval: b.opts.InitialInterval}
	for retries := 0; ; retries++ {
		err := b.try(ctx, f)
		var stop *consumerError
		if errors.As(err, &stop) {
			return stop.err
		}
		if err == nil {
			if retries > 0 && b.opts.Success != nil {
				b.opts.Success(op, retries)
			}
			return nil
		}
		if ctx.Err() != nil || (b.opts.TryOnce != nil && b.opts.TryOnce(t)) {
			return err
		}
		var wait time.Duration
		ok := !backend.IsPermanent(err)
		if ok {
			wait, ok = bo.next()
		}
		if !ok {
			if b.opts.Report != nil && (quiet == nil || !quiet(err)) {
				b.opts.Report(op, err, -1)
			}
			return err
		}
		if b.opts.Report != nil {
			b.opts.Report(op, err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			// cancelled while waiting to retry: the cancellation is what
			// ended it (restic reports "context canceled" then)
			t.Stop()
			return ctx.Err()
		}
	}
}

// try runs one attempt under the stuck watchdog.
func (b *Backend) try(ctx context.Context, f func(a attempt) error) error {
	timeout := b.opts.StuckTimeout
	if timeout <= 0 {
		return f(attempt{ctx: ctx, progress: func() {}, stuck: new(atomic.Bool)})
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	var last atomic.Int64 // time of the last progress, since start
	var stuck atomic.Bool
	var timer *time.Timer
	var mu sync.Mutex // guards timer against the callback re-arming it
	check := func() {
		mu.Lock()
		defer mu.Unlock()
		idle := time.Since(start) - time.Duration(last.Load())
		if idle < timeout {
			timer.Reset(timeout - idle)
			return
		}
		stuck.Store(true)
		cancel()
	}
	mu.Lock()
	timer = time.AfterFunc(timeout, check)
	mu.Unlock()
	defer timer.Stop()

	err := f(attempt{ctx: actx, progress: func() { last.Store(int64(time.Since(start))) }, stuck: &stuck})
	if err != nil && stuck.Load() && ctx.Err() == nil {
		// not the caller's cancellation, so not permanent
		return fmt.Errorf("%w: no progress for %v (%v)", ErrStuck, timeout, err)
	}
	return err
}

// progressReader reports every read to the watchdog and fails once the
// watchdog cancelled the attempt, for backends that do not watch their
// context while reading.
type progressReader struct {
	rd       io.Reader
	progress func()
	stuck    *atomic.Bool
}

func (r *progressReader) Read(p []byte) (int, error) {
	if r.stuck.Load() {
		return 0, ErrStuck
	}
	n, err := r.rd.Read(p)
	r.progress()
	return n, err
}

// rewindReader is a progressReader for Save.
type rewindReader struct {
	progressReader
	rd backend.RewindReader
}

func (r *rewindReader) Rewind() error { return r.rd.Rewind() }
func (r *rewindReader) Length() int64 { return r.rd.Length() }

// fileSource is a rewindReader over a backend.FileSource: file-to-file
// copies keep reporting progress (after each piece) and stop once the
// watchdog cancelled the attempt. It passes links through
// (backend.LinkableSource) when the source can be linked.
type fileSource struct {
	rewindReader
	src backend.FileSource
}

// LinkTo links the file where the source can (backend.LinkableSource); a
// link is one step, which counts as progress.
func (r *fileSource) LinkTo(path string) (bool, error) {
	src, ok := r.src.(backend.LinkableSource)
	if !ok {
		return false, nil
	}
	if r.stuck.Load() {
		return false, ErrStuck
	}
	linked, err := src.LinkTo(path)
	r.progress()
	return linked, err
}

func (r *fileSource) CopyTo(dst *os.File, progress func() error) (int64, error) {
	if r.stuck.Load() {
		return 0, ErrStuck
	}
	return r.src.CopyTo(dst, func() error {
		r.progress()
		if r.stuck.Load() {
			return ErrStuck
		}
		if progress != nil {
			return progress()
		}
		return nil
	})
}

// Save stores a file, rewinding rd before every attempt.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	atomicReplace := b.be.Properties().HasAtomicReplace
	return b.retry(ctx, h.Type, fmt.Sprintf("Save(%v)", h), nil, func(a attempt) error {
		if err := rd.Rewind(); err != nil {
			return &backend.PermanentError{Err: fmt.Errorf("save %v: rewind: %w", h, err)}
		}
		var r backend.RewindReader = rd
		if b.opts.StuckTimeout > 0 {
			rr := rewindReader{progressReader: a.reader(rd), rd: rd}
			r = &rr
			if src, ok := rd.(backend.FileSource); ok {
				r = &fileSource{rewindReader: rr, src: src}
			}
		}
		err := b.be.Save(a.ctx, h, r)
		if err != nil && !atomicReplace && !backend.IsPermanent(err) && ctx.Err() == nil {
			// A failed upload may have left part of the file, which the
			// next attempt could not replace.
			b.removeLeftover(ctx, h)
		}
		return err
	})
}

// removeLeftover removes what a failed Save attempt may have left, within
// the stuck timeout: the server that broke the upload may not answer the
// removal either, and the retry must not wait for it without end.
func (b *Backend) removeLeftover(ctx context.Context, h backend.Handle) {
	if b.opts.StuckTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.opts.StuckTimeout)
		defer cancel()
	}
	_ = b.be.Remove(ctx, h)
}

// Load reads a file; fn starts over on every attempt. Errors of the
// backend, also those fn meets while reading, are retried; an error fn
// returns on its own (it got data but rejects it, or cannot store it) ends
// Load at once and unchanged, unlike restic, which retries those too.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	if t, ok := b.failedLoads.Load(h); ok {
		if time.Since(t.(time.Time)) < b.opts.FailedLoadExpiry {
			return fmt.Errorf("circuit breaker open for file %v", h)
		}
		b.failedLoads.Delete(h)
	}
	consumerFailed := false
	// A lock file that vanished between listing and loading was released
	// by its holder: normal, not worth a report (restic reports it).
	var quiet func(error) bool
	if h.Type == backend.LockFile {
		quiet = backend.IsNotExist
	}
	err := b.retry(ctx, h.Type, fmt.Sprintf("Load(%v, %v, %v)", h, length, offset), quiet, func(a attempt) error {
		a.progress()
		consumerFailed = false
		return b.be.Load(a.ctx, h, length, offset, func(rd io.Reader) error {
			lr := &loadReader{progressReader: a.reader(rd)}
			err := fn(lr)
			if err != nil && lr.err == nil {
				// fn's own verdict on data it did get: not retried.
				consumerFailed = true
				return &consumerError{err}
			}
			return err
		})
	})
	if err != nil && ctx.Err() == nil && !backend.IsPermanent(err) && !consumerFailed {
		b.failedLoads.LoadOrStore(h, time.Now())
	}
	return err
}

// consumerError carries an error of Load's fn that did not come from
// reading: retrying cannot change fn's mind.
type consumerError struct{ err error }

func (e *consumerError) Error() string { return e.err.Error() }
func (e *consumerError) Unwrap() error { return e.err }

// loadReader remembers the last error other than io.EOF.
type loadReader struct {
	progressReader
	err error
}

// errNoStat: the wrapped reader does not describe a file.
var errNoStat = errors.New("not a file")

// Stat passes through the file information of a wrapped local file, which
// backend.LoadAll uses to read the file in one piece.
func (r *loadReader) Stat() (os.FileInfo, error) {
	if f, ok := r.rd.(interface{ Stat() (os.FileInfo, error) }); ok {
		return f.Stat()
	}
	return nil, errNoStat
}

func (r *loadReader) Read(p []byte) (int, error) {
	n, err := r.progressReader.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// Stat returns information about a file. A missing file is not retried
// and not reported: Stat is how callers ask whether a file exists.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	var fi backend.FileInfo
	err := b.retry(ctx, h.Type, fmt.Sprintf("Stat(%v)", h), backend.IsNotExist, func(a attempt) error {
		var err error
		fi, err = b.be.Stat(a.ctx, h)
		return err
	})
	return fi, err
}

// Remove deletes a file.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	return b.retry(ctx, h.Type, fmt.Sprintf("Remove(%v)", h), nil, func(a attempt) error {
		return b.be.Remove(a.ctx, h)
	})
}

// List calls fn once for every file, also when the listing is retried
// after part of it was delivered. fn's error ends the listing at once and
// is returned.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	seen := make(map[string]struct{})
	var fnErr error
	err := b.retry(ctx, t, fmt.Sprintf("List(%v)", t), func(error) bool { return fnErr != nil }, func(a attempt) error {
		return b.be.List(a.ctx, t, func(fi backend.FileInfo) error {
			a.progress()
			if _, dup := seen[fi.Name]; dup {
				return nil
			}
			seen[fi.Name] = struct{}{}
			if err := fn(fi); err != nil {
				fnErr = err
				return &backend.PermanentError{Err: err}
			}
			a.progress()
			return nil
		})
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

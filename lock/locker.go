package lock

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/arca-backup/arca/backend"
)

// Locker takes, refreshes, inspects and removes the locks of one repository.
// It keeps a watch list of the lock IDs it has seen (for the observation rule)
// across all its calls, so one Locker should be used per repository and
// process. It is safe for concurrent use.
type Locker struct {
	store Store
	opts  Options
	me    Lock // identity template: hostname, user, PID

	// scanMu serialises listings, so that "absent from the previous listing"
	// is meaningful, and guards the watch list.
	scanMu     sync.Mutex
	watch      map[string]watchEntry
	listed     bool          // a complete listing has been taken
	lastListAt time.Duration // monotonic start of the last complete listing

	mu     sync.Mutex
	own    map[string]time.Duration // our lock files → monotonic end of their write
	anchor anchor
}

// watchEntry is what the Locker knows about one lock ID from its listings.
type watchEntry struct {
	firstSeen    time.Duration // monotonic end of the first listing that had it
	createdAfter time.Duration // monotonic start of a listing that lacked it
	young        bool          // createdAfter is valid
}

// anchor ties the backend's clock to our monotonic clock: one of our lock
// files has modification time mtime and was written completely by mono.
type anchor struct {
	mtime time.Time
	mono  time.Duration
	ok    bool
}

// NewLocker returns a Locker storing locks in store. Zero option fields take
// their defaults; inconsistent timings are an error.
func NewLocker(store Store, opts Options) (*Locker, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	me, err := identity()
	if err != nil {
		return nil, err
	}
	return &Locker{store: store, opts: o, me: me, watch: map[string]watchEntry{}, own: map[string]time.Duration{}}, nil
}

// Options returns the effective options (defaults filled in).
func (l *Locker) Options() Options { return l.opts }

// Info describes one lock file and the verdict on it.
type Info struct {
	ID   string
	Size int64
	// Lock is the decoded content; zero when Err is set or Ignored.
	Lock Lock
	// Err is why the file could not be read or decoded.
	Err error
	// Ignored is set for empty lock files, which restic and arca skip.
	Ignored bool
	// Own is set for locks held (or being acquired) by this Locker.
	Own bool
	// ModTime is the backend's modification time, zero when unknown.
	ModTime time.Time
	// AgeByTimestamp is our wall clock minus the lock's timestamp (negative:
	// the timestamp is in the future).
	AgeByTimestamp time.Duration
	// AgeByModTime is the backend's current time minus ModTime (valid when
	// ModTime is set). ModTimeAnchored tells whether "the backend's current
	// time" came from our own lock file's modification time (true) or from
	// our wall clock (false).
	AgeByModTime    time.Duration
	ModTimeAnchored bool
	// Observed is how long this Locker has watched this ID stay in place
	// (zero on first sight).
	Observed time.Duration
	// MaxAge is an upper bound of the file's age, known (MaxAgeKnown) when
	// this Locker saw it appear.
	MaxAge      time.Duration
	MaxAgeKnown bool
	// Stale is the verdict; Reason explains it (or why the lock is live).
	Stale  bool
	Reason string
}

// String describes the lock on a few lines for `list locks --long` style
// output.
func (in Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lock %s", shortID(in.ID))
	switch {
	case in.Ignored:
		b.WriteString(" (empty file)")
	case in.Err != nil:
		fmt.Fprintf(&b, " (unreadable: %v)", in.Err)
	default:
		kind := "shared"
		if in.Lock.Exclusive {
			kind = "exclusive"
		}
		fmt.Fprintf(&b, " %s, PID %d on %s by %s (UID %d, GID %d), created at %s",
			kind, in.Lock.PID, in.Lock.Hostname, in.Lock.Username, in.Lock.UID, in.Lock.GID,
			in.Lock.Time.Format("2006-01-02 15:04:05"))
	}
	b.WriteString("\n  age:")
	if in.Err == nil && !in.Ignored {
		fmt.Fprintf(&b, " %v by timestamp,", in.AgeByTimestamp.Round(time.Second))
	}
	if in.ModTime.IsZero() {
		b.WriteString(" no file time,")
	} else {
		ref := "our clock"
		if in.ModTimeAnchored {
			ref = "backend clock"
		}
		fmt.Fprintf(&b, " %v by file time (%s),", in.AgeByModTime.Round(time.Second), ref)
	}
	fmt.Fprintf(&b, " watched %v", in.Observed.Round(time.Second))
	if in.MaxAgeKnown {
		fmt.Fprintf(&b, ", appeared less than %v ago", in.MaxAge.Round(time.Second))
	}
	verdict := "live"
	if in.Stale {
		verdict = "stale"
	}
	fmt.Fprintf(&b, "\n  %s: %s", verdict, in.Reason)
	return b.String()
}

// listedFile is one entry of a listing with what the watch list knows.
type listedFile struct {
	id       string
	size     int64
	mtime    time.Time
	observed time.Duration
	entry    watchEntry
}

// list takes one complete listing and updates the watch list and the
// backend clock anchor.
//
// A listing is the union of two listings taken one after the other. A
// directory listing (readdir, paginated object listings) may miss files that
// are added or removed while it runs, so a single listing that overlaps a
// holder's refresh (new file written, old one removed) can miss both. The
// second listing starts after the first ended and sees the new file then.
func (l *Locker) list(ctx context.Context) ([]listedFile, error) {
	l.scanMu.Lock()
	defer l.scanMu.Unlock()
	clk := l.opts.Clock
	start := clk.Monotonic()
	var files []listedFile
	index := map[string]int{}
	for range 2 {
		err := l.store.ListLocks(ctx, func(id string, size int64, modTime time.Time) error {
			f := listedFile{id: id, size: size, mtime: modTime}
			if i, ok := index[id]; ok {
				files[i] = f
			} else {
				index[id] = len(files)
				files = append(files, f)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("lock: listing locks: %w", err)
		}
	}
	end := clk.Monotonic()

	seen := make(map[string]bool, len(files))
	for i := range files {
		f := &files[i]
		seen[f.id] = true
		e, ok := l.watch[f.id]
		if !ok {
			// Present now (at some moment before end). If an earlier
			// listing lacked it, it was created after that listing began.
			e = watchEntry{firstSeen: end, createdAfter: l.lastListAt, young: l.listed}
			l.watch[f.id] = e
		} else if start > e.firstSeen {
			// Present in an earlier listing (at some moment before
			// firstSeen) and in this one (at some moment after start):
			// present throughout.
			f.observed = start - e.firstSeen
		}
		f.entry = e
	}
	for id := range l.watch {
		if !seen[id] {
			delete(l.watch, id)
		}
	}
	l.listed, l.lastListAt = true, start

	l.mu.Lock()
	for _, f := range files {
		if done, ok := l.own[f.id]; ok && !f.mtime.IsZero() && (!l.anchor.ok || done >= l.anchor.mono) {
			l.anchor = anchor{mtime: f.mtime, mono: done, ok: true}
		}
	}
	l.mu.Unlock()
	return files, nil
}

// scan lists and reads all locks and judges them. Files that cannot be read
// are returned with Err set; loadFailed tells whether some read failed for a
// reason other than decoding (worth retrying). vanished tells that a listed
// file was gone when read: the listing is then not a valid picture (a holder
// may have replaced that file by one the listing missed) and must be taken
// again.
func (l *Locker) scan(ctx context.Context) (infos []Info, loadFailed, vanished bool, err error) {
	files, err := l.list(ctx)
	if err != nil {
		return nil, false, false, err
	}
	infos = make([]Info, len(files))
	gone := make([]bool, len(files))
	failed := make([]bool, len(files))

	// Reading locks costs one request each; do a few at a time.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, f := range files {
		infos[i] = Info{ID: f.id, Size: f.size, ModTime: f.mtime}
		if f.size == 0 {
			// As restic: some backends leave empty files behind when an
			// upload is interrupted.
			infos[i].Ignored = true
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, id string) {
			defer func() { <-sem; wg.Done() }()
			buf, err := l.store.LoadLock(ctx, id)
			switch {
			case errors.Is(err, backend.ErrNotExist):
				gone[i] = true // removed since the listing
			case err != nil:
				infos[i].Err = fmt.Errorf("loading lock: %w", err)
				failed[i] = true
			default:
				lk, err := Unmarshal(buf)
				if err != nil {
					infos[i].Err = err
				} else {
					infos[i].Lock = lk
				}
			}
		}(i, f.id)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, false, false, err
	}
	for _, g := range gone {
		vanished = vanished || g
	}

	l.mu.Lock()
	anc := l.anchor
	own := make(map[string]bool, len(l.own))
	for id := range l.own {
		own[id] = true
	}
	l.mu.Unlock()
	clk := l.opts.Clock
	wallNow, monoNow := clk.Now(), clk.Monotonic()
	backendNow, anchored := wallNow, false
	if anc.ok {
		backendNow, anchored = anc.mtime.Add(monoNow-anc.mono), true
	}

	out := infos[:0]
	for i := range infos {
		if gone[i] {
			continue
		}
		if failed[i] {
			loadFailed = true
		}
		in := infos[i]
		f := files[i]
		in.Own = own[in.ID]
		in.Observed = f.observed
		if f.entry.young {
			in.MaxAge, in.MaxAgeKnown = monoNow-f.entry.createdAfter, true
		}
		if in.Err == nil && !in.Ignored {
			in.AgeByTimestamp = wallNow.Round(0).Sub(in.Lock.Time)
		}
		if !in.ModTime.IsZero() {
			in.AgeByModTime, in.ModTimeAnchored = backendNow.Round(0).Sub(in.ModTime), anchored
		}
		l.judge(&in)
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Lock.Time.Equal(out[j].Lock.Time) {
			return out[i].Lock.Time.Before(out[j].Lock.Time)
		}
		return out[i].ID < out[j].ID
	})
	return out, loadFailed, vanished, nil
}

// maxRescans bounds how often scanRetry takes a new listing because files
// vanished between listing and reading.
const maxRescans = 20

// scanRetry is scan with restic's retries: up to 4 attempts, the delay
// doubling from BackendRetryDelay, while listing or reading fails. After the
// last attempt unreadable files are returned with Err set. A listing in
// which a file vanished before it was read is taken again at once: the
// picture must be consistent, or a lock being refreshed (old file removed
// after the listing, new file written before the removal but missed by the
// listing) would look absent.
func (l *Locker) scanRetry(ctx context.Context) ([]Info, error) {
	delay := l.opts.BackendRetryDelay
	for attempt, rescans := 0, 0; ; {
		infos, loadFailed, vanished, err := l.scan(ctx)
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if err == nil && vanished {
			if rescans++; rescans > maxRescans {
				return nil, fmt.Errorf("lock: lock files keep changing while being read")
			}
			continue
		}
		if err == nil && (!loadFailed || attempt == 3) {
			return infos, nil
		}
		if attempt == 3 {
			return nil, err
		}
		attempt++
		if err := sleep(ctx, delay); err != nil {
			return nil, err
		}
		delay *= 2
	}
}

// judge sets in.Stale and in.Reason by the rules in the package doc.
func (l *Locker) judge(in *Info) {
	o := l.opts
	S := o.StaleTimeout
	set := func(stale bool, format string, args ...any) {
		in.Stale, in.Reason = stale, fmt.Sprintf(format, args...)
	}
	haveMT := !in.ModTime.IsZero()
	oldMT := haveMT && in.AgeByModTime > S
	readable := in.Err == nil && !in.Ignored

	switch {
	case in.Own:
		set(false, "held by this process")
		return
	case in.Ignored:
		set(false, "empty lock file, ignored")
		return
	case readable && l.me.Hostname != "" && in.Lock.Hostname == l.me.Hostname &&
		in.Lock.PID > 0 && !processExists(in.Lock.PID):
		set(true, "process %d on this host (%s) no longer exists", in.Lock.PID, in.Lock.Hostname)
		return
	case in.Observed > o.ObserveTimeout:
		set(true, "unchanged for %v as watched by this process (limit %v)", in.Observed.Round(time.Millisecond), o.ObserveTimeout)
		return
	case in.MaxAgeKnown && in.MaxAge <= S:
		set(false, "appeared less than %v ago (seen appearing by this process)", in.MaxAge.Round(time.Millisecond))
	case !readable:
		if oldMT {
			set(true, "unreadable, and file time is %v old (limit %v)", in.AgeByModTime.Round(time.Second), S)
			return
		}
		set(false, "unreadable; expires when its file time or watch time exceeds %v", S)
	case in.AgeByTimestamp < -o.Margin:
		if oldMT {
			set(true, "timestamp is %v in the future (holder's clock is wrong), and file time is %v old (limit %v)",
				(-in.AgeByTimestamp).Round(time.Second), in.AgeByModTime.Round(time.Second), S)
			return
		}
		set(false, "timestamp is %v in the future; judged by file time and watch time", (-in.AgeByTimestamp).Round(time.Second))
	case in.AgeByTimestamp > S && !haveMT:
		set(true, "timestamp is %v old (limit %v; the backend reports no file time)", in.AgeByTimestamp.Round(time.Second), S)
		return
	case in.AgeByTimestamp > S && oldMT:
		set(true, "timestamp is %v old and file time %v old (limit %v)",
			in.AgeByTimestamp.Round(time.Second), in.AgeByModTime.Round(time.Second), S)
		return
	case in.AgeByTimestamp > S:
		set(false, "timestamp is %v old but the file was written %v ago (clock skew?)",
			in.AgeByTimestamp.Round(time.Second), in.AgeByModTime.Round(time.Second))
	default:
		set(false, "refreshed %v ago", in.AgeByTimestamp.Round(time.Second))
	}
	// Live: note a holder that missed refreshes.
	if in.Observed > o.RefreshInterval+o.Margin {
		in.Reason += fmt.Sprintf("; suspect: unchanged for %v, the holder missed refreshes (expires after %v watched)",
			in.Observed.Round(time.Second), o.ObserveTimeout)
	}
}

// Inspect lists every lock with its ages by each clock and the verdict.
func (l *Locker) Inspect(ctx context.Context) ([]Info, error) {
	return l.scanRetry(ctx)
}

// RemoveStale removes every stale lock (never one held by this Locker) and
// returns them; with dryRun it only returns what it would remove. Empty
// files are left alone, as restic's unlock does. It stops at the first
// removal that fails and returns what was removed so far.
func (l *Locker) RemoveStale(ctx context.Context, dryRun bool) ([]Info, error) {
	infos, err := l.scanRetry(ctx)
	if err != nil {
		return nil, err
	}
	var stale []Info
	for _, in := range infos {
		if in.Stale && !in.Own {
			stale = append(stale, in)
		}
	}
	if dryRun {
		return stale, nil
	}
	return l.removeInfos(ctx, stale)
}

// RemoveAll removes every lock file except the ones held by this Locker
// (`unlock --remove-all`), including empty and unreadable ones; with dryRun
// it only returns what it would remove.
func (l *Locker) RemoveAll(ctx context.Context, dryRun bool) ([]Info, error) {
	infos, err := l.scanRetry(ctx)
	if err != nil {
		return nil, err
	}
	var all []Info
	for _, in := range infos {
		if !in.Own {
			if !in.Stale {
				in.Reason = "removed regardless (remove all): " + in.Reason
			}
			all = append(all, in)
		}
	}
	if dryRun {
		return all, nil
	}
	return l.removeInfos(ctx, all)
}

func (l *Locker) removeInfos(ctx context.Context, infos []Info) ([]Info, error) {
	var done []Info
	for _, in := range infos {
		if err := l.remove(ctx, in.ID); err != nil {
			return done, err
		}
		done = append(done, in)
	}
	return done, nil
}

// remove deletes a lock file; a file that is already gone is no error.
func (l *Locker) remove(ctx context.Context, id string) error {
	err := l.store.RemoveLock(ctx, id)
	if err != nil && !errors.Is(err, backend.ErrNotExist) {
		return fmt.Errorf("lock: removing lock %s: %w", shortID(id), err)
	}
	return nil
}

// removeStale removes a lock judged stale and reports whether it was still
// there. A holder that exited after the scan read its lock has usually
// deleted it on the way out (restic and arca both do), which made its
// process look dead; such a lock is gone, not stale, and is not reported.
func (l *Locker) removeStale(ctx context.Context, id string) (bool, error) {
	if _, err := l.store.LoadLock(ctx, id); errors.Is(err, backend.ErrNotExist) {
		return false, nil
	}
	return true, l.remove(ctx, id)
}

// removeDetached removes a lock file even when ctx is already cancelled,
// bounded by UnlockTimeout.
func (l *Locker) removeDetached(ctx context.Context, id string) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opts.UnlockTimeout)
	defer cancel()
	return l.remove(rctx, id)
}

func (l *Locker) addOwn(id string, written time.Duration) {
	l.mu.Lock()
	l.own[id] = written
	l.mu.Unlock()
}

func (l *Locker) dropOwn(id string) {
	l.mu.Lock()
	delete(l.own, id)
	l.mu.Unlock()
}

func (l *Locker) logf(format string, args ...any) {
	if l.opts.Logf != nil {
		l.opts.Logf(format, args...)
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

package lock

import (
	"fmt"
	"os"
	"time"
)

// Default timings. RefreshInterval, StaleTimeout, the retry backoff and
// CheckDelay are restic's.
const (
	DefaultRefreshInterval   = 5 * time.Minute
	DefaultStaleTimeout      = 30 * time.Minute
	DefaultCheckDelay        = 200 * time.Millisecond
	DefaultRetrySleepStart   = 5 * time.Second
	DefaultRetrySleepMax     = 60 * time.Second
	DefaultBackendRetryDelay = 5 * time.Second
	DefaultUnlockTimeout     = time.Minute
)

// Environment variables read by OptionsFromEnv (Go durations such as "90s").
const (
	EnvRefreshInterval = "ARCA_LOCK_REFRESH_INTERVAL"
	EnvStaleTimeout    = "ARCA_LOCK_STALE_TIMEOUT"
	EnvCheckDelay      = "ARCA_LOCK_CHECK_DELAY"
)

// Options are the timings of a Locker. Zero fields take their defaults.
type Options struct {
	// RefreshInterval is how often a held lock is replaced by a fresh one.
	RefreshInterval time.Duration
	// StaleTimeout is how long a lock may go without refresh before others
	// may consider it stale.
	StaleTimeout time.Duration
	// Margin is the safety margin: a held lock is given up when it has not
	// been refreshed for StaleTimeout−Margin; a timestamp more than Margin in
	// the future counts as "in the future"; an ID watched for longer than
	// RefreshInterval+Margin is reported as suspect. Zero means
	// 1.5×RefreshInterval, which gives restic's 22.5 min by default.
	Margin time.Duration
	// ObserveTimeout is how long this Locker must watch an unchanged lock ID
	// before it counts as stale. Zero means StaleTimeout. It must exceed
	// StaleTimeout−Margin (when holders fence themselves).
	ObserveTimeout time.Duration
	// RetryLock is how long Acquire keeps retrying while the repository is
	// locked (restic's --retry-lock). Zero means one attempt.
	RetryLock time.Duration
	// RetrySleepStart and RetrySleepMax bound the backoff between retries
	// under RetryLock (restic: 5 s doubling up to 60 s).
	RetrySleepStart, RetrySleepMax time.Duration
	// CheckDelay is the wait between writing a lock and checking for others
	// (restic's 200 ms). Zero means restic's 200 ms, or no wait at all when
	// ConsistentList is set.
	CheckDelay time.Duration
	// ConsistentList says that the store lists every lock file whose write
	// returned before the listing began, for every client (a repository on
	// a local disk; S3 on AWS, R2 or MinIO). Then two contenders that each
	// check after their own write cannot both miss the other, and the check
	// needs no delay: restic's only gives eventually consistent stores time
	// to show new files. An explicit CheckDelay still applies.
	ConsistentList bool
	// BackendRetryDelay is the first delay between attempts to list and read
	// locks when the backend fails (4 attempts, doubling; restic: 5 s).
	BackendRetryDelay time.Duration
	// UnlockTimeout bounds removing lock files after the caller's context
	// is cancelled (restic: 1 min).
	UnlockTimeout time.Duration
	// Clock is the time source; nil means SystemClock().
	Clock Clock
	// OnLocked is called once per Acquire when the first attempt finds the
	// repository locked, before any retry wait (restic prints
	// RetryMessage(RetryLock) at that point, even when RetryLock is zero).
	OnLocked func(err *ConflictError, retryLock time.Duration)
	// OnWritten is called when an attempt has found no conflicting lock
	// and written its lock file, before it waits CheckDelay to check
	// again. A holder of a conflicting lock that starts after this call
	// sees the new lock file, so reads that begin after it see the
	// repository as the lock protects it if the same attempt succeeds
	// (with RetryLock zero there is only one attempt). Callers use it to
	// read while the check delay runs; they must not write before Acquire
	// returns.
	OnWritten func()
	// Logf receives warnings from the background refresh (failed refresh,
	// failed removal). Nil discards them.
	Logf func(format string, args ...any)
}

// DefaultOptions returns restic's timings (CheckDelay is left zero:
// restic's 200 ms unless the store lists consistently).
func DefaultOptions() Options {
	return Options{
		RefreshInterval:   DefaultRefreshInterval,
		StaleTimeout:      DefaultStaleTimeout,
		Margin:            DefaultRefreshInterval * 3 / 2,
		ObserveTimeout:    DefaultStaleTimeout,
		RetrySleepStart:   DefaultRetrySleepStart,
		RetrySleepMax:     DefaultRetrySleepMax,
		BackendRetryDelay: DefaultBackendRetryDelay,
		UnlockTimeout:     DefaultUnlockTimeout,
	}
}

// OptionsFromEnv returns base with RefreshInterval and StaleTimeout taken
// from ARCA_LOCK_REFRESH_INTERVAL and ARCA_LOCK_STALE_TIMEOUT when set. When
// one of them is set, Margin and ObserveTimeout are reset to zero (derived
// from the new values) unless base set them to something else than the
// defaults. ARCA_LOCK_CHECK_DELAY sets CheckDelay (for tests).
func OptionsFromEnv(base Options) (Options, error) {
	def := DefaultOptions()
	set := false
	for _, v := range []struct {
		name string
		dst  *time.Duration
	}{{EnvRefreshInterval, &base.RefreshInterval}, {EnvStaleTimeout, &base.StaleTimeout}} {
		s, ok := os.LookupEnv(v.name)
		if !ok || s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return base, fmt.Errorf("lock: %s: %w", v.name, err)
		}
		if d <= 0 {
			return base, fmt.Errorf("lock: %s: duration must be positive, got %v", v.name, d)
		}
		*v.dst = d
		set = true
	}
	if s := os.Getenv(EnvCheckDelay); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return base, fmt.Errorf("lock: %s: %w", EnvCheckDelay, err)
		}
		if d <= 0 {
			return base, fmt.Errorf("lock: %s: duration must be positive, got %v", EnvCheckDelay, d)
		}
		base.CheckDelay = d
	}
	if set {
		if base.Margin == def.Margin {
			base.Margin = 0
		}
		if base.ObserveTimeout == def.ObserveTimeout {
			base.ObserveTimeout = 0
		}
	}
	return base, nil
}

// RetryMessage is restic's notice when a lock attempt meets a conflict.
func RetryMessage(retryLock time.Duration) string {
	return fmt.Sprintf("repo already locked, waiting up to %s for the lock\n", retryLock)
}

// withDefaults fills zero fields and checks that the timings are consistent.
func (o Options) withDefaults() (Options, error) {
	def := DefaultOptions()
	fill := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	fill(&o.RefreshInterval, def.RefreshInterval)
	fill(&o.StaleTimeout, def.StaleTimeout)
	fill(&o.Margin, o.RefreshInterval*3/2)
	fill(&o.ObserveTimeout, o.StaleTimeout)
	fill(&o.RetrySleepStart, def.RetrySleepStart)
	fill(&o.RetrySleepMax, def.RetrySleepMax)
	if !o.ConsistentList {
		fill(&o.CheckDelay, DefaultCheckDelay)
	}
	fill(&o.BackendRetryDelay, def.BackendRetryDelay)
	fill(&o.UnlockTimeout, def.UnlockTimeout)
	if o.Clock == nil {
		o.Clock = SystemClock()
	}
	for _, d := range []time.Duration{o.RefreshInterval, o.StaleTimeout, o.Margin, o.ObserveTimeout,
		o.RetryLock, o.RetrySleepStart, o.RetrySleepMax, o.CheckDelay, o.BackendRetryDelay, o.UnlockTimeout} {
		if d < 0 {
			return o, fmt.Errorf("lock: negative duration %v in options", d)
		}
	}
	if o.StaleTimeout-o.Margin <= o.RefreshInterval {
		return o, fmt.Errorf("lock: stale timeout %v must exceed refresh interval %v plus margin %v",
			o.StaleTimeout, o.RefreshInterval, o.Margin)
	}
	if o.ObserveTimeout <= o.StaleTimeout-o.Margin {
		return o, fmt.Errorf("lock: observe timeout %v must exceed stale timeout %v minus margin %v",
			o.ObserveTimeout, o.StaleTimeout, o.Margin)
	}
	return o, nil
}

// tieWindow is how long a contender that wins a tie waits for the others to
// withdraw: two check delays, since each looks again one delay after
// writing; without a delay (a consistent store) they look at once, and
// consistentTieWindow covers their listing and removal.
func (o Options) tieWindow() time.Duration {
	if o.CheckDelay == 0 {
		return consistentTieWindow
	}
	return 2 * o.CheckDelay
}

// consistentTieWindow is the tie window without a check delay.
const consistentTieWindow = 50 * time.Millisecond

// fenceAfter is how long a held lock may go without a successful refresh.
func (o Options) fenceAfter() time.Duration { return o.StaleTimeout - o.Margin }

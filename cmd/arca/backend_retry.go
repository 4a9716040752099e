package main

import (
	"fmt"
	"os"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/retry"
)

// withRetries wraps be so that transient errors are retried for up to 15
// minutes, stuck transfers are cancelled after --stuck-request-timeout, and
// every retry is reported on stderr in restic's words. Lock files are the
// exception: one attempt each (restic retries them too, but arca's lock
// package has its own retries and deadlines).
func (a *app) withRetries(be backend.Backend) (backend.Backend, error) {
	opts := retry.DefaultOptions()
	opts.StuckTimeout = a.opts.StuckTimeout
	if s := os.Getenv(envRetryMaxElapsed); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, fatalf("invalid %s %q: want a positive duration such as 2m", envRetryMaxElapsed, s)
		}
		opts.MaxElapsed = d
	}
	// the lock package retries lock files itself, within its fencing deadlines
	opts.TryOnce = func(t backend.FileType) bool { return t == backend.LockFile }
	opts.Report = func(op string, err error, wait time.Duration) {
		if wait >= 0 {
			fmt.Fprintf(a.stderr, "%v returned error, retrying after %v: %v\n", op, wait, err)
		} else {
			fmt.Fprintf(a.stderr, "%v failed: %v\n", op, err)
		}
	}
	opts.Success = func(op string, retries int) {
		fmt.Fprintf(a.stderr, "%v operation successful after %d retries\n", op, retries)
	}
	return retry.Wrap(be, opts), nil
}

// envRetryMaxElapsed overrides how long a failing backend operation is
// retried (a Go duration; restic's fixed 15 minutes by default), for tests
// and for users who prefer an early error to a long wait.
const envRetryMaxElapsed = "ARCA_RETRY_MAX_ELAPSED"

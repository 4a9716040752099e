//go:build !linux

package lock

import (
	"sync"
	"time"
)

type systemClock struct {
	start time.Time
	mu    sync.Mutex
	last  time.Duration
}

func newSystemClock() Clock { return &systemClock{start: time.Now()} }

func (c *systemClock) Now() time.Time { return time.Now() }

// Monotonic is the larger of Go's monotonic elapsed time (which may stop
// during suspend) and wall-clock elapsed time (which counts it), kept
// non-decreasing.
func (c *systemClock) Monotonic() time.Duration {
	now := time.Now()
	d := now.Sub(c.start)
	if w := now.Round(0).Sub(c.start.Round(0)); w > d {
		d = w
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d < c.last {
		d = c.last
	}
	c.last = d
	return d
}

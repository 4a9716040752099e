//go:build linux

package lock

import (
	"time"

	"golang.org/x/sys/unix"
)

type systemClock struct{}

func newSystemClock() Clock { return systemClock{} }

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Monotonic() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		// CLOCK_BOOTTIME exists since Linux 2.6.39; fall back to the
		// monotonic clock, which only misses suspended time.
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			panic("lock: no monotonic clock: " + err.Error())
		}
	}
	return time.Duration(ts.Nano())
}

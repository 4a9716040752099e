package lock

import "time"

// Clock supplies time to a Locker. Tests replace it to simulate skewed wall
// clocks or a suspend.
type Clock interface {
	// Now returns the wall-clock time; it is written into lock files and
	// compared with other locks' timestamps.
	Now() time.Time
	// Monotonic returns a reading of a clock that never goes back and that
	// keeps counting while the machine is suspended. Only differences between
	// readings matter.
	Monotonic() time.Duration
}

// SystemClock returns the real clock: time.Now for wall time and, on Linux,
// CLOCK_BOOTTIME for monotonic time (it includes suspend, unlike Go's own
// monotonic reading). Elsewhere the monotonic reading is the larger of Go's
// monotonic and wall-clock elapsed time, never decreasing.
func SystemClock() Clock { return newSystemClock() }

//go:build !linux

package crypto

import "time"

// scryptTable returns a zeroed table of n words and a function that
// releases it.
func scryptTable(n int) ([]uint32, func()) { return make([]uint32, n), func() {} }

// cpuClock reports that there is no thread CPU clock here (ok false).
func cpuClock() (now func() time.Duration, ok bool) { return nil, false }

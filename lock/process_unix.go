//go:build unix

package lock

import (
	"errors"

	"golang.org/x/sys/unix"
)

// processExists reports whether a process with the PID exists on this host.
// Only ESRCH from kill(pid, 0) counts as gone; EPERM means it exists.
func processExists(pid int) bool {
	if pid <= 0 {
		return true // kill(0 or negative) addresses process groups: no verdict
	}
	err := unix.Kill(pid, 0)
	return !errors.Is(err, unix.ESRCH)
}

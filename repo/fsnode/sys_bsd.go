//go:build darwin || freebsd

package fsnode

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// statTimes returns the access, modification and status change times of s.
func statTimes(s *syscall.Stat_t) (atime, mtime, ctime time.Time) {
	return time.Unix(s.Atimespec.Unix()), time.Unix(s.Mtimespec.Unix()), time.Unix(s.Ctimespec.Unix())
}

// errNoXattr is what asking for an attribute a file does not have fails
// with.
const errNoXattr = unix.ENOATTR

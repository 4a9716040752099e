package fsnode

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// statTimes returns the access, modification and status change times of s.
func statTimes(s *syscall.Stat_t) (atime, mtime, ctime time.Time) {
	return time.Unix(s.Atim.Unix()), time.Unix(s.Mtim.Unix()), time.Unix(s.Ctim.Unix())
}

// errNoXattr is what asking for an attribute a file does not have fails
// with.
const errNoXattr = unix.ENODATA

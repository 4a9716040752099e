package restorer

import (
	"os"

	"golang.org/x/sys/unix"
)

// preallocate reserves size bytes for f (fallocate), so that a file
// written in pieces out of order is laid out in one run. It is an
// optimisation: file systems without it are fine.
func preallocate(f *os.File, size int64) {
	_ = unix.Fallocate(int(f.Fd()), 0, 0, size)
}

func mknodDev(path string, mode uint32, dev uint64) error {
	return unix.Mknod(path, mode, int(dev))
}

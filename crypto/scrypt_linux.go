package crypto

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// scryptTable returns a zeroed table of n words and a function that
// releases it. On Linux it is one anonymous mapping with MADV_HUGEPAGE:
// with transparent huge pages in "madvise" mode (a common default) the
// table is then faulted in 2 MiB at a time instead of 4 KiB at a time,
// which is a large part of scrypt's cost in a fresh process.
func scryptTable(n int) ([]uint32, func()) {
	size := n * 4
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return make([]uint32, n), func() {}
	}
	_ = unix.Madvise(mem, unix.MADV_HUGEPAGE) // advice only
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(mem))), n), func() { _ = unix.Munmap(mem) }
}

// cpuClock returns a clock of the CPU time the calling thread has used,
// and ok; the caller must keep its goroutine on one thread
// (runtime.LockOSThread) between two readings.
func cpuClock() (now func() time.Duration, ok bool) {
	now = func() time.Duration {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
			return 0
		}
		return time.Duration(ts.Nano())
	}
	var ts unix.Timespec
	return now, unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) == nil
}

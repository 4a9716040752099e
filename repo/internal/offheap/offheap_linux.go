package offheap

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// alloc maps n bytes of anonymous memory; the kernel supplies zeroed pages
// on first touch, so untouched parts cost no memory.
func alloc(n int) ([]byte, func(), bool) {
	if n <= 0 {
		return nil, func() {}, false
	}
	mem, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return make([]byte, n), func() {}, false
	}
	return mem, func() { _ = unix.Munmap(mem) }, true
}

// discard drops the whole pages inside b; a private anonymous mapping
// reads as zeros there afterwards.
func discard(b []byte) {
	page := uintptr(unix.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	skip := int((page - start%page) % page)
	if skip >= len(b) {
		return
	}
	n := (len(b) - skip) / int(page) * int(page)
	if n > 0 {
		_ = unix.Madvise(b[skip:skip+n], unix.MADV_DONTNEED) // advice only
	}
}

// resident counts the bytes of b's pages that are in memory (mincore).
// b starts at a page boundary: it is the whole of one mapping.
func resident(b []byte) (int, bool) {
	page := unix.Getpagesize()
	vec := make([]byte, (len(b)+page-1)/page)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		return 0, false
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n * page, true
}

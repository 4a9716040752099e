package fsync

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The structures shared with the kernel must have the ABI's sizes.
func TestABISizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"io_uring_params", unsafe.Sizeof(ringParams{}), 120},
		{"io_uring_sqe", unsafe.Sizeof(submission{}), sqeSize},
		{"io_uring_cqe", unsafe.Sizeof(completion{}), cqeSize},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d bytes, want %d", c.name, c.got, c.want)
		}
	}
}

// Where the kernel offers io_uring, syncs must go through it: falling
// back silently would bring back the held P this package exists to avoid.
func TestRingIsUsedWhereAvailable(t *testing.T) {
	var p ringParams
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		t.Skipf("io_uring is not available here: %v", e)
	}
	unix.Close(int(fd))
	if p.features&featSingleMmap == 0 {
		t.Skip("kernel without IORING_FEAT_SINGLE_MMAP")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("data"); err != nil {
		t.Fatal(err)
	}
	if err := ringSync(f); err != nil {
		if errors.Is(err, errFallback) {
			t.Fatal("io_uring is available but the sync fell back to fsync")
		}
		t.Fatal(err)
	}
}

package packer

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// createUnnamed creates a file without a name in dir (O_TMPFILE): a crash
// leaves nothing behind, and the finished pack can still be given a name
// with linkTo. ok is false where the file system cannot do it.
func createUnnamed(dir string) (f *os.File, ok bool) {
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.OpenFile(dir, os.O_RDWR|unix.O_TMPFILE, 0o600)
	if err != nil {
		return nil, false
	}
	return f, true
}

// linkTo gives the unnamed file f the name path. It fails where path is on
// another file system (EXDEV) or /proc is not mounted.
func linkTo(f *os.File, path string) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var linkErr error
	err = conn.Control(func(fd uintptr) {
		// linking an O_TMPFILE file through its /proc entry needs no
		// privileges (AT_EMPTY_PATH would)
		proc := "/proc/self/fd/" + strconv.Itoa(int(fd))
		linkErr = unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
	})
	if err != nil {
		return err
	}
	if linkErr != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: path, Err: linkErr}
	}
	return nil
}

// startWriteback asks the kernel to start writing the bytes [off, off+n)
// of f to the disk without waiting for them (sync_file_range with
// SYNC_FILE_RANGE_WRITE). It is advice: errors are left to the sync that
// follows.
func startWriteback(f *os.File, off, n int64) {
	conn, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = conn.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}

package archiver

import (
	"encoding/binary"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// readDir lists the directory open as d with getdents64, keeping only
// each entry's name and whether its type is a regular file. An entry of
// a file system that gives no types (DT_UNKNOWN) is not listed as a
// regular file; the walk then lstats it.
func readDir(d *os.File) (dirEntries, error) {
	var l dirListing
	buf := make([]byte, 32<<10)
	rc, err := d.SyscallConn()
	if err != nil {
		return dirEntries{}, err
	}
	for {
		var n int
		var readErr error
		if err := rc.Read(func(fd uintptr) bool {
			for {
				n, readErr = unix.Getdents(int(fd), buf)
				if readErr != syscall.EINTR {
					return true
				}
			}
		}); err != nil {
			return dirEntries{}, err
		}
		if readErr != nil {
			return dirEntries{}, &os.PathError{Op: "getdents", Path: d.Name(), Err: readErr}
		}
		if n <= 0 {
			return l.sorted(), nil
		}
		if err := parseDirents(buf[:n], &l); err != nil {
			return dirEntries{}, fmt.Errorf("%s: %w", d.Name(), err)
		}
	}
}

// parseDirents adds the linux_dirent64 records in b to l: an 8-byte
// inode number, an 8-byte offset, a 2-byte record length, a type byte and
// the name, ended by a NUL byte.
func parseDirents(b []byte, l *dirListing) error {
	const nameOff = 19
	for len(b) > 0 {
		if len(b) < nameOff {
			return fmt.Errorf("getdents: record of %d bytes", len(b))
		}
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < nameOff || reclen > len(b) {
			return fmt.Errorf("getdents: record length %d of %d bytes", reclen, len(b))
		}
		name := b[nameOff:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		ino := binary.NativeEndian.Uint64(b[0:8])
		if ino != 0 { // a deleted entry, as Go's os skips them
			l.add(name, b[18] == unix.DT_REG)
		}
		b = b[reclen:]
	}
	return nil
}

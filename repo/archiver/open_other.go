//go:build !linux

package archiver

import (
	"os"
	"syscall"
)

// openFile opens a regular file for reading its content; a symlink put
// in the file's place is not followed.
func openFile(path string) (File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}

// lstatAt is os.Lstat(path); only Linux looks path up in its open
// directory dirfd.
func lstatAt(dirfd int, path string) (os.FileInfo, error) {
	return os.Lstat(path)
}

//go:build !linux

package archiver

import (
	"os"
	"syscall"

	"github.com/arca-backup/arca/repo/fsnode"
)

// openFile opens a regular file for reading its content; a symlink put
// in the file's place is not followed.
func openFile(path string) (File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}

// lstatAt is the Stat of os.Lstat(path); only Linux looks path up in
// its open directory dirfd.
func lstatAt(dirfd int, path string) (fsnode.Stat, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return fsnode.Stat{}, err
	}
	return fsnode.StatOf(fi), nil
}

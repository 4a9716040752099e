package archiver

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/arca-backup/arca/repo/fsnode"
	"golang.org/x/sys/unix"
)

// openFile opens a regular file for reading its content as restic does on
// Linux: a symlink put in the file's place is not followed (the open
// fails with ELOOP), and reading does not update the file's access time
// where the kernel allows O_NOATIME (the caller owns the file or has
// CAP_FOWNER); elsewhere it opens again without it. Unlike restic, it
// also opens with O_NONBLOCK, which regular files ignore: a FIFO put in
// the file's place since the walk saw it then opens at once, instead of
// waiting for a writer, and the archiver refuses it after fstat.
//
// The descriptor is used bare (fdFile) instead of becoming an *os.File:
// os.Open tries to register the file with the network poller (a
// non-blocking fcntl, a refused epoll_ctl and a blocking fcntl), and even
// os.NewFile asks whether the descriptor is non-blocking (one fcntl) and
// sets a finalizer. On this project's VM a system call costs over a
// microsecond before it does anything, and a backup of many small files
// makes seven or eight of them per file.
func openFile(path string) (File, error) {
	return openFileWith(path, unix.Open)
}

// openFlags are the flags openFile tries first.
const openFlags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_NONBLOCK

// openFileWith is openFile with the open system call injected (tests).
func openFileWith(path string, open func(path string, flags int, mode uint32) (int, error)) (File, error) {
	flags := openFlags
	for {
		fd, err := open(path, flags, 0)
		switch {
		case err == nil:
			return &fdFile{fd: fd, path: path}, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EPERM) && flags&unix.O_NOATIME != 0:
			flags &^= unix.O_NOATIME // not the owner
			continue
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
}

// fdFile is a file read through its bare descriptor. Its errors are
// *os.PathError, as an *os.File's. Close it exactly once.
type fdFile struct {
	fd   int
	path string
}

func (f *fdFile) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Read(f.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, &os.PathError{Op: "read", Path: f.path, Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// Stat returns the open file's metadata; its Sys is a *syscall.Stat_t and
// its Mode is what os.Stat would give.
func (f *fdFile) Stat() (os.FileInfo, error) {
	fi := &statInfo{path: f.path}
	for {
		err := syscall.Fstat(f.fd, &fi.st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "stat", Path: f.path, Err: err}
		}
		return fi, nil
	}
}

// Fd returns the descriptor (extended attributes are read through it).
func (f *fdFile) Fd() uintptr { return uintptr(f.fd) }

func (f *fdFile) Close() error {
	if f.fd < 0 {
		return &os.PathError{Op: "close", Path: f.path, Err: os.ErrClosed}
	}
	// close(2) must not be retried, even after EINTR: the descriptor is
	// gone either way on Linux
	err := unix.Close(f.fd)
	f.fd = -1
	if err != nil {
		return &os.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}

// lstatAt returns the Stat of what os.Lstat(path) would, where dirfd is path's
// directory, open: through fstatat on path's last element, so that the
// kernel looks up the one name instead of every component of path again.
// With dirfd negative it is os.Lstat(path).
func lstatAt(dirfd int, path string) (fsnode.Stat, error) {
	if dirfd < 0 {
		fi, err := os.Lstat(path)
		if err != nil {
			return fsnode.Stat{}, err
		}
		return fsnode.StatOf(fi), nil
	}
	var st unix.Stat_t
	for {
		err := unix.Fstatat(dirfd, filepath.Base(path), &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fsnode.Stat{}, &os.PathError{Op: "lstat", Path: path, Err: err}
		}
		break
	}
	return fsnode.StatOfSys(fileMode(st.Mode), &syscall.Stat_t{
		Dev: st.Dev, Ino: st.Ino, Nlink: st.Nlink, Mode: st.Mode,
		Uid: st.Uid, Gid: st.Gid, Rdev: st.Rdev, Size: st.Size,
		Blksize: st.Blksize, Blocks: st.Blocks,
		Atim: syscall.Timespec(st.Atim), Mtim: syscall.Timespec(st.Mtim), Ctim: syscall.Timespec(st.Ctim),
	}), nil
}

// statInfo is an os.FileInfo made from a stat structure.
type statInfo struct {
	path string
	st   syscall.Stat_t
}

func (s *statInfo) Name() string       { return filepath.Base(s.path) }
func (s *statInfo) Size() int64        { return s.st.Size }
func (s *statInfo) Mode() os.FileMode  { return fileMode(s.st.Mode) }
func (s *statInfo) ModTime() time.Time { return time.Unix(s.st.Mtim.Unix()) }
func (s *statInfo) IsDir() bool        { return s.Mode().IsDir() }
func (s *statInfo) Sys() any           { return &s.st }

// fileMode converts a stat mode to an os.FileMode the way package os does
// on Linux: permission bits, the type and the setuid, setgid and sticky
// bits.
func fileMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	switch m & syscall.S_IFMT {
	case syscall.S_IFBLK:
		mode |= os.ModeDevice
	case syscall.S_IFCHR:
		mode |= os.ModeDevice | os.ModeCharDevice
	case syscall.S_IFDIR:
		mode |= os.ModeDir
	case syscall.S_IFIFO:
		mode |= os.ModeNamedPipe
	case syscall.S_IFLNK:
		mode |= os.ModeSymlink
	case syscall.S_IFSOCK:
		mode |= os.ModeSocket
	}
	if m&syscall.S_ISGID != 0 {
		mode |= os.ModeSetgid
	}
	if m&syscall.S_ISUID != 0 {
		mode |= os.ModeSetuid
	}
	if m&syscall.S_ISVTX != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

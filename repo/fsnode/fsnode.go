// Package fsnode reads a file system entry's metadata into a model.Node the
// way restic does on Linux: the lstat fields (mode, times, owner, inode,
// device, link count, size), the owner's user and group names (looked up
// once per ID and cached), the symlink target, the device number and the
// extended attributes in the order the kernel lists them. Nodes built here
// for unchanged files encode to the same bytes as restic's, which keeps tree
// IDs equal between arca and restic.
package fsnode

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/arca-backup/arca/repo/model"
	"golang.org/x/sys/unix"
)

// Names caches user and group name lookups by ID. The zero value is not
// usable; call NewNames. Safe for concurrent use.
type Names struct {
	mu     sync.Mutex
	users  map[uint32]string
	groups map[uint32]string
}

// NewNames returns an empty cache.
func NewNames() *Names {
	return &Names{users: map[uint32]string{}, groups: map[uint32]string{}}
}

// User returns the name of uid, or "" when there is none.
func (n *Names) User(uid uint32) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.users[uid]; ok {
		return s
	}
	s := ""
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		s = u.Username
	}
	n.users[uid] = s
	return s
}

// Group returns the name of gid, or "" when there is none.
func (n *Names) Group(gid uint32) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.groups[gid]; ok {
		return s
	}
	s := ""
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10)); err == nil {
		s = g.Name
	}
	n.groups[gid] = s
	return s
}

// Options change what is recorded.
type Options struct {
	// WithAtime stores the access time; otherwise atime is set to mtime as
	// restic does by default.
	WithAtime bool
	// IgnoreXattrListError ignores a permission error when listing
	// extended attributes (restic does so for the directories above the
	// backed-up paths).
	IgnoreXattrListError bool
	// Xattrs, when not nil, are the node's extended attributes as known
	// from elsewhere (an unchanged file's node in the parent snapshot);
	// they are not read from the file system then.
	Xattrs *[]model.ExtendedAttribute
	// Into, when not nil, is overwritten with the node and returned,
	// instead of a new node.
	Into *model.Node
}

// Stat is the part of lstat(2) a node is made of.
type Stat struct {
	Mode                  os.FileMode
	Dev, Ino, Nlink, Rdev uint64
	UID, GID              uint32
	Size                  int64
	Atime, Mtime, Ctime   time.Time
}

// StatOf extracts Stat from an os.FileInfo returned by os.Lstat or File.Stat.
func StatOf(fi os.FileInfo) Stat {
	st := Stat{Mode: fi.Mode(), Size: fi.Size(), Mtime: fi.ModTime()}
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		return StatOfSys(st.Mode, s)
	}
	return st
}

// StatOfSys extracts Stat from a stat structure; mode is its mode as
// package os gives it.
func StatOfSys(mode os.FileMode, s *syscall.Stat_t) Stat {
	st := Stat{
		Mode:  mode,
		Dev:   uint64(s.Dev),
		Ino:   s.Ino,
		Nlink: uint64(s.Nlink),
		Rdev:  uint64(s.Rdev),
		UID:   s.Uid,
		GID:   s.Gid,
		Size:  s.Size,
	}
	st.Atime, st.Mtime, st.Ctime = statTimes(s)
	return st
}

// TypeOf returns restic's node type for a file mode.
func TypeOf(mode os.FileMode) model.NodeType {
	switch mode & os.ModeType {
	case 0:
		return model.NodeTypeFile
	case os.ModeDir:
		return model.NodeTypeDir
	case os.ModeSymlink:
		return model.NodeTypeSymlink
	case os.ModeDevice | os.ModeCharDevice:
		return model.NodeTypeCharDev
	case os.ModeDevice:
		return model.NodeTypeDev
	case os.ModeNamedPipe:
		return model.NodeTypeFifo
	case os.ModeSocket:
		return model.NodeTypeSocket
	case os.ModeIrregular:
		return model.NodeTypeIrregular
	}
	return ""
}

// FromStat builds the node for the entry at path (which is not followed if
// it is a symlink) with metadata st. name is the node's name. A node is
// returned even with an error when only part of the metadata (link target,
// extended attributes) could be read.
func FromStat(path, name string, st Stat, names *Names, opts Options) (*model.Node, error) {
	return fromStat(xattrSource{path: path, fd: -1}, name, st, names, opts)
}

// FromOpenFile is FromStat for an entry open as descriptor fd (st its
// fstat): extended attributes are read through fd, which spares the
// kernel looking up path once more for each of them, and are those of
// the very file opened even if path has since been replaced.
func FromOpenFile(fd int, path, name string, st Stat, names *Names, opts Options) (*model.Node, error) {
	return fromStat(xattrSource{path: path, fd: fd}, name, st, names, opts)
}

func fromStat(src xattrSource, name string, st Stat, names *Names, opts Options) (*model.Node, error) {
	path := src.path
	mask := os.ModePerm | os.ModeType | os.ModeSetuid | os.ModeSetgid | os.ModeSticky
	n := opts.Into
	if n == nil {
		n = new(model.Node)
	}
	*n = model.Node{
		Name:       name,
		Type:       TypeOf(st.Mode),
		Mode:       st.Mode & mask,
		ModTime:    st.Mtime,
		AccessTime: st.Atime,
		ChangeTime: st.Ctime,
		UID:        st.UID,
		GID:        st.GID,
		Inode:      st.Ino,
		DeviceID:   st.Dev,
		Path:       path,
	}
	if !opts.WithAtime {
		n.AccessTime = n.ModTime
	}
	n.User = names.User(st.UID)
	n.Group = names.Group(st.GID)

	var err error
	switch n.Type {
	case model.NodeTypeFile:
		n.Size = uint64(st.Size)
		n.Links = st.Nlink
	case model.NodeTypeDir, model.NodeTypeFifo, model.NodeTypeSocket:
	case model.NodeTypeSymlink:
		n.Links = st.Nlink
		n.LinkTarget, err = os.Readlink(path)
		if err != nil {
			return n, fmt.Errorf("readlink: %w", err)
		}
	case model.NodeTypeDev, model.NodeTypeCharDev:
		n.Device = st.Rdev
		n.Links = st.Nlink
	default:
		return n, fmt.Errorf("unsupported file type %q", n.Type)
	}
	if opts.Xattrs != nil {
		n.ExtendedAttributes = slices.Clone(*opts.Xattrs)
		return n, err
	}
	xa, err := src.read(opts.IgnoreXattrListError)
	n.ExtendedAttributes = xa
	return n, err
}

// FromPath lstats path and builds its node.
func FromPath(path, name string, names *Names, opts Options) (*model.Node, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	return FromStat(path, name, StatOf(fi), names, opts)
}

// XattrUnsupported reports errors meaning the file system has no extended
// attributes, or the file not the one asked for.
func XattrUnsupported(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, errNoXattr)
}

// xattrSource is where extended attributes are read from: the descriptor
// fd, or the entry at path (not followed) when fd is negative. path names
// the entry in errors either way.
type xattrSource struct {
	path string
	fd   int
}

// read returns the extended attributes in the order the kernel lists
// them. Unsupported file systems give none (restic stores an empty,
// non-nil list, which encodes like no list).
func (s xattrSource) read(ignoreListPermission bool) ([]model.ExtendedAttribute, error) {
	names, err := s.names()
	if err != nil {
		if XattrUnsupported(err) {
			return nil, nil
		}
		if ignoreListPermission && errors.Is(err, os.ErrPermission) {
			return nil, nil
		}
		return nil, fmt.Errorf("list extended attributes of %s: %w", s.path, err)
	}
	var out []model.ExtendedAttribute
	var errs []error
	for _, name := range names {
		v, err := s.value(name)
		if err != nil {
			if XattrUnsupported(err) {
				continue
			}
			errs = append(errs, fmt.Errorf("can not obtain extended attribute %v for %v: %w", name, s.path, err))
			continue
		}
		out = append(out, model.ExtendedAttribute{Name: name, Value: v})
	}
	return out, errors.Join(errs...)
}

func (s xattrSource) list(buf []byte) (int, error) {
	if s.fd >= 0 {
		return unix.Flistxattr(s.fd, buf)
	}
	return unix.Llistxattr(s.path, buf)
}

func (s xattrSource) get(name string, buf []byte) (int, error) {
	if s.fd >= 0 {
		return unix.Fgetxattr(s.fd, name, buf)
	}
	return unix.Lgetxattr(s.path, name, buf)
}

// names lists the attributes' names. Most files have none: the first try
// uses a buffer on the stack.
func (s xattrSource) names() ([]string, error) {
	var first [256]byte
	buf := first[:]
	for {
		n, err := s.list(buf)
		if errors.Is(err, unix.ERANGE) {
			if n, err = s.list(nil); err != nil {
				return nil, err
			}
			buf = make([]byte, n+1024)
			continue
		}
		if err != nil {
			return nil, err
		}
		var names []string
		start := 0
		for i := 0; i < n; i++ {
			if buf[i] == 0 {
				if i > start {
					names = append(names, string(buf[start:i]))
				}
				start = i + 1
			}
		}
		return names, nil
	}
}

func (s xattrSource) value(name string) ([]byte, error) {
	size := 256
	for {
		buf := make([]byte, size)
		n, err := s.get(name, buf)
		if errors.Is(err, unix.ERANGE) {
			if n, err = s.get(name, nil); err != nil {
				return nil, err
			}
			size = n + 256
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n:n], nil
	}
}

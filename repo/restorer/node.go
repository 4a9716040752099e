package restorer

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"sync"
	"syscall"

	"github.com/arca-backup/arca/repo/fsnode"
	"github.com/arca-backup/arca/repo/model"
	"golang.org/x/sys/unix"
)

// createNode makes a non-directory, non-file item at path (the caller has
// removed whatever was there). Sockets are not restored.
func createNode(n *model.Node, path string) error {
	var err error
	switch n.Type {
	case model.NodeTypeDir:
		if err = os.Mkdir(path, n.Mode); err != nil && errors.Is(err, os.ErrExist) {
			err = nil
		}
	case model.NodeTypeFile:
		var f *os.File
		if f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600); err == nil {
			err = f.Close()
		}
	case model.NodeTypeSymlink:
		err = os.Symlink(n.LinkTarget, path)
	case model.NodeTypeDev:
		err = mknod(path, unix.S_IFBLK|0o600, n.Device)
	case model.NodeTypeCharDev:
		err = mknod(path, unix.S_IFCHR|0o600, n.Device)
	case model.NodeTypeFifo:
		err = mknod(path, unix.S_IFIFO|0o600, 0)
	case model.NodeTypeSocket:
	default:
		err = fmt.Errorf("filetype %q not implemented", n.Type)
	}
	return err
}

func mknod(path string, mode uint32, dev uint64) error {
	if err := mknodDev(path, mode, dev); err != nil {
		return &os.PathError{Op: "mknod", Path: path, Err: err}
	}
	return nil
}

// metadata restores owner, xattrs, timestamps and mode of path, in restic's
// order (mode last: a read-only mode must not block the other steps).
type metadata struct {
	xattrSelect     func(name string) bool
	ownershipByName bool
	warn            func(string)
	names           *nameCache
	warnedMu        sync.Mutex
	warnedAttrs     map[string]bool
}

// knownGenericAttributes are restic's generic attributes that belong to
// another OS and are skipped silently.
var knownGenericAttributes = map[string]bool{
	"windows.creation_time":       true,
	"windows.file_attributes":     true,
	"windows.security_descriptor": true,
}

func (m *metadata) restore(n *model.Node, path string) error {
	err := m.apply(n, path)
	// without root, permission errors (e.g. chown) are expected
	if err != nil && os.Geteuid() > 0 && errors.Is(err, os.ErrPermission) {
		return nil
	}
	return err
}

func (m *metadata) apply(n *model.Node, path string) error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	uid, gid := n.UID, n.GID
	if m.ownershipByName {
		uid, gid = m.names.uid(n.User), m.names.gid(n.Group)
	}
	keep(os.Lchown(path, int(uid), int(gid)))
	keep(m.restoreXattrs(n, path))
	for name := range n.GenericAttributes {
		if knownGenericAttributes[name] {
			continue
		}
		m.warnedMu.Lock()
		seen := m.warnedAttrs[name]
		if m.warnedAttrs == nil {
			m.warnedAttrs = map[string]bool{}
		}
		m.warnedAttrs[name] = true
		m.warnedMu.Unlock()
		if !seen && m.warn != nil {
			m.warn(fmt.Sprintf("Found an unrecognized generic attribute in the repository: %s. You may need to upgrade to latest version of restic.", name))
		}
	}
	times := []unix.Timespec{
		unix.NsecToTimespec(n.AccessTime.UnixNano()),
		unix.NsecToTimespec(n.ModTime.UnixNano()),
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, times, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		keep(fmt.Errorf("failed to restore timestamp of %q: %w", path, err))
	}
	if n.Type != model.NodeTypeSymlink {
		if err := os.Chmod(path, n.Mode); err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EOPNOTSUPP) {
			keep(err)
		}
	}
	return first
}

func (m *metadata) restoreXattrs(n *model.Node, path string) error {
	want := map[string]bool{}
	for _, a := range n.ExtendedAttributes {
		if !m.xattrSelect(a.Name) {
			continue
		}
		if err := unix.Lsetxattr(path, a.Name, a.Value, 0); err != nil && !fsnode.XattrUnsupported(err) {
			return &os.PathError{Op: "lsetxattr " + a.Name, Path: path, Err: err}
		}
		want[a.Name] = true
	}
	names, err := listXattrs(path)
	if err != nil {
		return err
	}
	for _, name := range names {
		if want[name] || !m.xattrSelect(name) {
			continue
		}
		if err := unix.Lremovexattr(path, name); err != nil && !fsnode.XattrUnsupported(err) {
			return &os.PathError{Op: "lremovexattr " + name, Path: path, Err: err}
		}
	}
	return nil
}

func listXattrs(path string) ([]string, error) {
	for {
		n, err := unix.Llistxattr(path, nil)
		if err != nil {
			if fsnode.XattrUnsupported(err) {
				return nil, nil
			}
			return nil, &os.PathError{Op: "llistxattr", Path: path, Err: err}
		}
		if n == 0 {
			return nil, nil
		}
		buf := make([]byte, n)
		n, err = unix.Llistxattr(path, buf)
		if errors.Is(err, unix.ERANGE) {
			continue // grew in between
		}
		if err != nil {
			if fsnode.XattrUnsupported(err) {
				return nil, nil
			}
			return nil, &os.PathError{Op: "llistxattr", Path: path, Err: err}
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

// nameCache maps user and group names to IDs (unknown names: 0, as restic).
type nameCache struct {
	mu     sync.Mutex
	users  map[string]uint32
	groups map[string]uint32
}

func (c *nameCache) uid(name string) uint32 {
	return c.lookup(&c.users, name, func(s string) (string, error) {
		u, err := user.Lookup(s)
		if err != nil {
			return "", err
		}
		return u.Uid, nil
	})
}

func (c *nameCache) gid(name string) uint32 {
	return c.lookup(&c.groups, name, func(s string) (string, error) {
		g, err := user.LookupGroup(s)
		if err != nil {
			return "", err
		}
		return g.Gid, nil
	})
}

func (c *nameCache) lookup(m *map[string]uint32, name string, fn func(string) (string, error)) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := (*m)[name]; ok {
		return id
	}
	if *m == nil {
		*m = map[string]uint32{}
	}
	var id uint32
	if s, err := fn(name); err == nil {
		if v, err := strconv.ParseUint(s, 10, 32); err == nil {
			id = uint32(v)
		}
	}
	(*m)[name] = id
	return id
}

const syscallNoFollow = syscall.O_NOFOLLOW

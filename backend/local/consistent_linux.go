package local

import "golang.org/x/sys/unix"

// listsConsistently reports whether dir is on a local disk's file system,
// where a file renamed into place is in every later directory listing of
// every process. Network and FUSE file systems (NFS caches directory
// listings, for example) and unknown ones are not.
func listsConsistently(dir string) bool {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return false
	}
	switch uint32(st.Type) {
	case unix.EXT4_SUPER_MAGIC, // also ext2 and ext3
		unix.XFS_SUPER_MAGIC,
		unix.BTRFS_SUPER_MAGIC,
		unix.TMPFS_MAGIC,
		unix.F2FS_SUPER_MAGIC,
		unix.OVERLAYFS_SUPER_MAGIC,
		unix.BCACHEFS_SUPER_MAGIC,
		zfsSuperMagic:
		return true
	}
	return false
}

// zfsSuperMagic is ZFS on Linux's file system type (not in x/sys/unix).
const zfsSuperMagic = 0x2fc12fc1

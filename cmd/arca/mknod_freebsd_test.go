package main

import "golang.org/x/sys/unix"

// mknodChar makes a character device.
func mknodChar(path string, perm uint32, dev uint64) error {
	return unix.Mknod(path, unix.S_IFCHR|perm, dev)
}

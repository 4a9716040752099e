//go:build !freebsd

package main

import "golang.org/x/sys/unix"

// mknodChar makes a character device (Mknod takes the device number as an
// int here, as a uint64 on FreeBSD).
func mknodChar(path string, perm uint32, dev uint64) error {
	return unix.Mknod(path, unix.S_IFCHR|perm, int(dev))
}

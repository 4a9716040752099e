//go:build !linux

package fsync

import "os"

// File commits f's data and metadata to stable storage (f.Sync).
func File(f *os.File) error { return f.Sync() }

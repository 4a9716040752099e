//go:build !linux

package local

// listsConsistently reports false: without a way to tell a local disk from
// a network file system here, locks keep restic's check delay.
func listsConsistently(string) bool { return false }

//go:build !linux

package sftp

import "os/exec"

// startInForeground starts cmd; only the Linux version hands the terminal
// to it.
func startInForeground(cmd *exec.Cmd) (restore func() error, err error) {
	return func() error { return nil }, cmd.Start()
}

// killProcess kills cmd's process.
func killProcess(cmd *exec.Cmd) error { return cmd.Process.Kill() }

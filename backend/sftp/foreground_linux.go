package sftp

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// startInForeground starts cmd in a process group of its own, so that a
// Ctrl-C meant for arca does not kill ssh before arca has cleaned up (its
// lock files live on the server). When arca owns the terminal, the new
// group is made the terminal's foreground group until the returned
// function runs, so ssh can ask for a password or a host key
// confirmation; call it once the SFTP session is up.
func startInForeground(cmd *exec.Cmd) (restore func() error, err error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	noop := func() error { return nil }

	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return noop, cmd.Start()
	}
	fd := int(tty.Fd())
	prev, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || prev != unix.Getpgrp() {
		// arca runs in the background: ssh cannot prompt either way.
		_ = tty.Close()
		return noop, cmd.Start()
	}
	// Handing the terminal over and back must not stop arca.
	signal.Ignore(unix.SIGTTIN, unix.SIGTTOU)
	// The child makes its group the foreground group itself, before it
	// runs ssh: handed over after Start, the terminal could come too late
	// for an ssh that reads it at once (in the background, with SIGTTIN
	// ignored as it inherits it, the read fails with EIO).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Foreground: true, Ctty: fd}
	if err := cmd.Start(); err != nil {
		signal.Reset(unix.SIGTTIN, unix.SIGTTOU)
		_ = tty.Close()
		return noop, err
	}
	return func() error {
		defer signal.Reset(unix.SIGTTIN, unix.SIGTTOU)
		defer tty.Close()
		return unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, prev)
	}, nil
}

// killProcess kills cmd's process group (ssh and whatever it started, such
// as a ProxyCommand), which startInForeground made.
func killProcess(cmd *exec.Cmd) error {
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err == nil {
		return nil
	}
	return cmd.Process.Kill()
}

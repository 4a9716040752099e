package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Measuring peak memory needs a small parent. On Linux a child's maximum
// resident set size starts at the resident size of the process it was
// started from (exec records the old address space's high-water mark, and
// Go starts children sharing the parent's), so a program started by the
// harness (which holds corpora and reports, often 100+ MiB) would never
// report less than the harness itself. The harness therefore runs each
// measured program through a fresh copy of itself in "measuring child"
// mode, which is small; that copy starts the program, waits for it and
// passes the program's own resource usage back on file descriptor 3.

// measureChildEnv switches the harness binary into measuring-child mode.
const measureChildEnv = "ARCA_BENCH_MEASURE_CHILD"

// usage is what a measuring child reports about the program it ran.
type usage struct {
	CPU    time.Duration
	MaxRSS int64 // bytes
}

// runMeasuringChild runs args (program and arguments) with the inherited
// standard streams, writes its CPU time and peak RSS to fd 3 and returns
// its exit code.
func runMeasuringChild(args []string) int {
	report := os.NewFile(3, "usage")
	if len(args) == 0 || report == nil {
		fmt.Fprintln(os.Stderr, "bench: measuring child: no program or no report descriptor")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintln(os.Stderr, "bench: measuring child:", err)
		return 2
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		fmt.Fprintf(report, "%d %d\n", ru.Utime.Nano()+ru.Stime.Nano(), ru.Maxrss*1024) // Linux: KiB
	}
	report.Close()
	return cmd.ProcessState.ExitCode()
}

// measuredCommand returns a command that runs bin with args through a
// measuring child, and a function to call after the command ended that
// returns the program's usage.
func measuredCommand(bin string, args []string) (*exec.Cmd, func() (usage, error), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(self, append([]string{bin}, args...)...)
	cmd.Env = append(os.Environ(), measureChildEnv+"=1")
	cmd.ExtraFiles = []*os.File{w}
	done := func() (usage, error) {
		defer r.Close()
		var u usage
		var cpu int64
		if _, err := fmt.Fscan(bufio.NewReader(r), &cpu, &u.MaxRSS); err != nil {
			return u, fmt.Errorf("no usage report from the measuring child: %w", err)
		}
		u.CPU = time.Duration(cpu)
		return u, nil
	}
	return cmd, func() (usage, error) {
		w.Close()
		return done()
	}, nil
}

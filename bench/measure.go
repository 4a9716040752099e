package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// sample is one measured run of a program.
type sample struct {
	Wall   time.Duration `json:"wall_ns"`
	CPU    time.Duration `json:"cpu_ns"`
	MaxRSS int64         `json:"max_rss_bytes"`
	// RepoBytes is the repository's size after the run, where measured.
	RepoBytes int64 `json:"repo_bytes,omitempty"`
}

// program is a restic-compatible binary under test.
type program struct {
	Name string
	Bin  string
}

// measure runs bin with args and env and returns its wall time, CPU time
// (user+system) and peak resident memory.
func measure(ctx context.Context, bin string, env []string, dir string, args ...string) (sample, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s %v: %w\n%s", filepath.Base(bin), args, err, tail(out.Bytes(), 2000))
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	s := sample{Wall: wall}
	if ru != nil {
		s.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		s.MaxRSS = ru.Maxrss * 1024 // Linux reports KiB
	}
	return s, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// findRestic resolves the restic binary.
func findRestic(p string) (string, error) {
	if p == "" {
		var err error
		if p, err = exec.LookPath("restic"); err != nil {
			return "", fmt.Errorf("no restic binary: pass -restic or set RESTIC_BIN")
		}
	}
	return filepath.Abs(p)
}

// buildArca builds ./cmd/arca into dir.
func buildArca(ctx context.Context, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "arca")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/arca")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build arca: %w\n%s", err, out)
	}
	return bin, nil
}

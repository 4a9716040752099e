package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// sample is one measured run of a program.
type sample struct {
	Wall   time.Duration `json:"wall_ns"`
	CPU    time.Duration `json:"cpu_ns"`
	MaxRSS int64         `json:"max_rss_bytes"`
	// RepoDelta is how much the repository grew (negative: shrank) during
	// the run, where the repository's files can be measured.
	RepoDelta *int64 `json:"repo_delta_bytes,omitempty"`
}

// program is a restic-compatible binary under test.
type program struct {
	Name string
	Bin  string
}

// runError is a failed run with the program's output.
type runError struct {
	cmd    string
	err    error
	output string
}

func (e *runError) Error() string { return fmt.Sprintf("%s: %v\n%s", e.cmd, e.err, e.output) }
func (e *runError) Unwrap() error { return e.err }

// notAvailableMarkers are the messages a restic-compatible program gives
// for a command, flag or backend it does not have.
var notAvailableMarkers = []string{`unknown command "`, "unknown flag:", "unknown shorthand flag", "is not supported yet", "not implemented"}

// notAvailable tells whether err is a program refusing a command, flag or
// backend it does not have (as opposed to failing at it).
func notAvailable(err error) bool {
	var re *runError
	if !errors.As(err, &re) {
		return false
	}
	for _, m := range notAvailableMarkers {
		if strings.Contains(re.output, m) {
			return true
		}
	}
	return false
}

// measure runs bin with args and env and returns its wall time, CPU time
// (user+system) and peak resident memory.
func measure(ctx context.Context, bin string, env []string, dir string, args ...string) (sample, error) {
	cmd, usageOf, err := measuredCommand(bin, args)
	if err != nil {
		return sample{}, err
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	if err = cmd.Start(); err == nil {
		stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
		err = cmd.Wait()
		stop()
	}
	wall := time.Since(start)
	u, uerr := usageOf()
	if err != nil {
		return sample{}, &runError{cmd: filepath.Base(bin) + " " + strings.Join(args, " "), err: err, output: string(tail(out.Bytes(), 2000))}
	}
	if uerr != nil {
		return sample{}, uerr
	}
	return sample{Wall: wall, CPU: u.CPU, MaxRSS: u.MaxRSS}, nil
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
		p = "restic"
	}
	bin, err := resolveBinary(p)
	if err != nil {
		return "", fmt.Errorf("no restic binary (pass -restic or set RESTIC_BIN): %w", err)
	}
	return bin, nil
}

// resolveBinary turns a command name or path into an absolute path.
func resolveBinary(p string) (string, error) {
	bin, err := exec.LookPath(p)
	if err != nil {
		return "", err
	}
	return filepath.Abs(bin)
}

// buildArca builds ./cmd/arca into dir the way the restic it is compared
// with is built (scripts/testservers/install-restic.sh) and restic's
// releases are: without cgo, a static binary, with -trimpath.
func buildArca(ctx context.Context, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "arca")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/arca")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build arca: %w\n%s", err, out)
	}
	return bin, nil
}

// machineInfo describes where a report was measured.
type machineInfo struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	MemoryGiB int    `json:"memory_gib"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	LoadAvg   string `json:"load_average_at_start"`
	Restic    string `json:"restic_version"`
	Arca      string `json:"arca_version"`
}

func collectMachineInfo(ctx context.Context, resticBin, arcaBin string) machineInfo {
	m := machineInfo{Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kib int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kib); err == nil {
			m.MemoryGiB = int((kib + 1<<19) >> 20)
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	version := func(bin string) string {
		out, err := exec.CommandContext(ctx, bin, "version").Output()
		if err != nil {
			return "unknown"
		}
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return first
	}
	m.Restic = version(resticBin)
	m.Arca = version(arcaBin)
	return m
}

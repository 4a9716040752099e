package crypto

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// calibrateChildEnv marks the fresh process TestCalibrateHoldsOneTable
// starts for each calibration.
const calibrateChildEnv = "ARCA_TEST_CALIBRATE_CHILD"

// TestCalibrateHoldsOneTable checks that Calibrate's trials take their
// tables from the same memory, one after the other, so that "init" never
// holds two tables at once. Each calibration runs in a fresh process, as
// in "init", and reports the most heap memory it held after a trial (its
// table is garbage then, but not yet collected): one table and faultIn's
// margin when the trials shared their memory, two tables when a trial's
// table had to go somewhere new while the last one was still resident.
// The heap's memory is read from the runtime, not from the resident set,
// so the race detector's own memory does not count.
//
// The failure is a race with the Go runtime, which the trials make rare
// but cannot rule out, so the test allows one calibration of 24 to fail.
// Measured with two busy loops beside it (each run 12 calibrations):
// without faultIn's margin, 18 of 360 calibrations held two tables and
// 15 of 30 runs had a failure; without the trials' wait for the
// scavenger (scavengerSettle), one in about 180; with the trials as they
// are, 2 of 840.
func TestCalibrateHoldsOneTable(t *testing.T) {
	if os.Getenv(calibrateChildEnv) != "" {
		calibrateChild(os.Getenv(calibrateChildEnv))
		return
	}
	if testing.Short() {
		t.Skip("starts two dozen processes")
	}
	child := os.Args[0]
	if raceEnabled {
		child = filepath.Join(t.TempDir(), "crypto.test")
		build := exec.Command("go", "test", "-c", "-o", child, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build the test without the race detector: %v\n%s", err, out)
		}
	}
	const rounds, allowed = 24, 1
	memMiB := DefaultCalibrateMemory
	first := Params{N: 1, R: 8, P: 1} // the first trial's: the largest table
	for (Params{N: first.N << 1, R: 8, P: 1}).Memory() < int64(memMiB)<<20 {
		first.N <<= 1
	}
	table := first.Memory()
	doubled := 0
	for i := range rounds {
		cmd := exec.Command(child, "-test.run=^TestCalibrateHoldsOneTable$")
		cmd.Env = append(os.Environ(), calibrateChildEnv+"="+strconv.Itoa(memMiB))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("round %d: %v\n%s", i, err, out)
		}
		var held int64
		var n, trials int
		j := strings.Index(string(out), "held ")
		if j < 0 {
			t.Fatalf("round %d: no report in %q", i, out)
		}
		if _, err := fmt.Sscanf(string(out[j:]), "held %d first N %d trials %d", &held, &n, &trials); err != nil {
			t.Fatalf("round %d: cannot parse %q: %v", i, out, err)
		}
		if n != first.N || trials < 2 {
			t.Fatalf("round %d: first trial N=%d, %d trials; want N=%d and two trials at least", i, n, trials, first.N)
		}
		t.Logf("round %d: heap held %.1f MiB more for %d trials with a %.1f MiB table", i, float64(held)/(1<<20), trials, float64(table)/(1<<20))
		if held > table+table/2 {
			doubled++
			t.Logf("round %d: two %d-byte tables were resident at once", i, table)
		}
	}
	if doubled > allowed {
		t.Errorf("%d of %d calibrations held two tables at once (more than %d)", doubled, rounds, allowed)
	}
}

// calibrateChild is the child's side of TestCalibrateHoldsOneTable: it
// calibrates for memMiB and prints the most memory the heap held after a
// trial, beyond what it held before the first.
func calibrateChild(memMiB string) {
	mem, err := strconv.Atoi(memMiB)
	if err != nil {
		fmt.Println("memory:", err)
		os.Exit(1)
	}
	resident := func() int64 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapSys - m.HeapReleased)
	}
	before := resident()
	var held int64
	first, trials := 0, 0
	tr := newTrials()
	run := func(p Params) (time.Duration, error) {
		if first == 0 {
			first = p.N
		}
		trials++
		d, err := tr.run(p)
		held = max(held, resident()-before)
		return d, err
	}
	_, err = calibrate(DefaultCalibrateTimeout, mem, run)
	tr.close()
	if err != nil {
		fmt.Println("calibrate:", err)
		os.Exit(1)
	}
	fmt.Printf("held %d first N %d trials %d\n", held, first, trials)
}

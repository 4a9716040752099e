//go:build !race

package crypto

import (
	"bytes"
	"fmt"
	"os"
	"runtime/debug"
	"testing"
)

// procStatusKiB returns a "kB" field of /proc/self/status.
func procStatusKiB(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		var kib int64
		if _, err := fmt.Sscanf(string(line), field+": %d kB", &kib); err == nil {
			return kib
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// TestCalibratePeakMemory: Calibrate's trials derive keys with x/crypto's
// scrypt, each allocating a table of 128·r·N bytes. Each trial's table
// must take the place of the last one's: when the last one was only
// collected, the next one sometimes went elsewhere while it was still
// resident, and arca init peaked at 78-80 MiB instead of 48 (in 6 of 53
// runs); this test then failed in each of four runs. The peak resident set (reset through clear_refs) may grow
// by at most one and a half tables over the start. Not under the race
// detector, whose shadow memory grows with every table; scripts/test.sh
// runs it without.
func TestCalibratePeakMemory(t *testing.T) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak resident set size: %v", err)
	}
	const memory = 16 // MiB: tables of 8 MiB (the largest power of two below)
	for round := range 12 {
		debug.FreeOSMemory()
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			t.Fatal(err)
		}
		start := procStatusKiB(t, "VmRSS")
		p, err := Calibrate(DefaultCalibrateTimeout, memory)
		if err != nil {
			t.Fatal(err)
		}
		table := p.Memory() >> 10
		if grew := procStatusKiB(t, "VmHWM") - start; grew > table*3/2 {
			t.Fatalf("round %d: calibration (N=%d, table %d KiB) raised the peak by %d KiB", round, p.N, table, grew)
		}
	}
}

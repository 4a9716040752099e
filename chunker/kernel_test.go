package chunker

import (
	"math/rand"
	"testing"
	"unsafe"
)

func TestTableLayout(t *testing.T) {
	var tab Table
	if unsafe.Offsetof(tab.mod) != 0 || unsafe.Offsetof(tab.out) != 2048 || unsafe.Offsetof(tab.shift) != 4096 {
		t.Fatal("Table layout does not match kernel_amd64.s")
	}
}

// TestScanPaths checks that every scan path finds the same first
// candidate, with a mask that makes candidates frequent and rare.
func TestScanPaths(t *testing.T) {
	data := randBytes(21, 1<<20)
	clear(data[300000:310000])
	rnd := rand.New(rand.NewSource(8))
	for _, pol := range testPols(t, 3) {
		for _, bits := range []int{8, 12, 16, 22} {
			tab := mustTable(t, pol, defaultLimits)
			tab.lim.mask = 1<<bits - 1
			for i := 0; i < 40; i++ {
				lo := 64 + rnd.Intn(len(data)-64)
				hi := lo + rnd.Intn(len(data)-lo+1)
				if i%4 == 0 {
					hi = min(len(data), lo+8*laneStride+rnd.Intn(3))
				}
				want := tab.scanSerial(data, lo, hi)
				if got := tab.scanGo(data, lo, hi); got != want {
					t.Fatalf("scanGo(%d,%d) = %d, want %d", lo, hi, got, want)
				}
				if got := tab.scan(data, lo, hi); got != want {
					t.Fatalf("scan(%d,%d) = %d, want %d", lo, hi, got, want)
				}
				if haveLanes8 {
					// Both assembly variants, when the CPU allows.
					saved := hasBMI2Flag()
					setBMI2(false)
					got := tab.scan(data, lo, hi)
					setBMI2(saved)
					if got != want {
						t.Fatalf("scan without BMI2 (%d,%d) = %d, want %d", lo, hi, got, want)
					}
				}
			}
		}
	}
}

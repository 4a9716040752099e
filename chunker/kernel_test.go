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
	var v vecTable
	if unsafe.Offsetof(v.top) != 0 || unsafe.Offsetof(v.mod) != 16 || unsafe.Offsetof(v.out) != 72 {
		t.Fatal("vecTable layout does not match kernel64_amd64.s")
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
					// Every assembly variant the CPU allows.
					saved64, savedBMI2 := lanes64Flag(), hasBMI2Flag()
					setLanes64(false)
					got8 := tab.scan(data, lo, hi)
					setBMI2(false)
					got8plain := tab.scan(data, lo, hi)
					setLanes64(saved64)
					setBMI2(savedBMI2)
					if got8 != want || got8plain != want {
						t.Fatalf("scan with eight lanes (%d,%d) = %d, without BMI2 %d, want %d", lo, hi, got8, got8plain, want)
					}
				}
			}
		}
	}
}

// lanes64Pols returns polynomials of every degree the 64-lane kernel
// takes (48..53; they need not be irreducible) besides restic's kind.
func lanes64Pols(t *testing.T) []Pol {
	pols := testPols(t, 3)
	rnd := rand.New(rand.NewSource(9))
	for deg := 48; deg <= 53; deg++ {
		pols = append(pols, Pol(1)<<deg|Pol(rnd.Int63n(1<<deg))|1)
	}
	return pols
}

// TestBlock64 compares the 64-lane kernel with the serial scan on whole
// blocks: random data, zero runs (every window of zeros is a candidate,
// also the partly filled ones of the warm-up, which must not count),
// repeated patterns, and candidates placed exactly on the first and last
// position of a lane.
func TestBlock64(t *testing.T) {
	if !lanes64Flag() {
		t.Skip("the CPU lacks AVX-512 VBMI or GFNI")
	}
	const block = 64 * lane64Seg
	data := randBytes(31, 4*block)
	clear(data[block+5000 : block+9000])  // zeros inside a lane
	clear(data[2*block-100 : 2*block+50]) // zeros across a block start
	for i := 3 * block; i < 3*block+20000; i++ {
		data[i] = byte(i % 7) // a short period
	}
	rnd := rand.New(rand.NewSource(10))
	for _, pol := range lanes64Pols(t) {
		for _, bits := range []int{4, 8, 12, 16, 20, 23} {
			tab := mustTable(t, pol, defaultLimits)
			if !tab.vecOK {
				t.Fatalf("polynomial %v of degree %d not taken by the 64-lane kernel", pol, pol.Deg())
			}
			tab.lim.mask = 1<<bits - 1
			check := func(lo int) {
				t.Helper()
				want := tab.scanSerial(data, lo, lo+block-1)
				if got := tab.block64(data, lo); got != want {
					t.Fatalf("pol %v, %d bits: block64(%d) = %d, want %d", pol, bits, lo, got, want)
				}
			}
			for _, lo := range []int{64, block - 3000, 2*block - 64, 2*block + 64, 3*block - 1000} {
				check(lo)
			}
			for i := 0; i < 6; i++ {
				check(64 + rnd.Intn(len(data)-block-64))
			}
			// a candidate at a lane's first and at its last position,
			// and one just after the block (the padding step's window)
			for _, start := range []int{64, block / 2, block, 2 * block} {
				p := tab.scanSerial(data, start, len(data)-block)
				if p < 0 {
					continue
				}
				if p-block >= start {
					check(p - block) // no candidate in the block
				}
				for _, k := range []int{0, 1, 37, 63} {
					for _, lo := range []int{p - k*lane64Seg, p - k*lane64Seg - (lane64Seg - 1)} {
						if lo >= 64 && lo+block <= len(data) {
							check(lo)
						}
					}
				}
			}
		}
	}
}

// TestVecTableDegrees checks which polynomials the 64-lane kernel takes.
func TestVecTableDegrees(t *testing.T) {
	for deg := 8; deg <= 53; deg++ {
		tab := mustTable(t, Pol(1)<<deg|1, defaultLimits)
		if want := deg >= 48; tab.vecOK != want {
			t.Errorf("degree %d: vecOK = %v, want %v", deg, tab.vecOK, want)
		}
	}
}

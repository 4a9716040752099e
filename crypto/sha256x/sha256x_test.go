package sha256x

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// edgeLengths are lengths around the block size and the padding's turns:
// 55 is the longest tail that pads into one block, 56 the shortest that
// needs two.
var edgeLengths = []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096}

// checkSum compares Sum with crypto/sha256.
func checkSum(t *testing.T, msgs [][]byte) {
	t.Helper()
	sums := make([][sha256.Size]byte, len(msgs))
	Sum(sums, msgs)
	for i, m := range msgs {
		if want := sha256.Sum256(m); sums[i] != want {
			t.Fatalf("message %d of %d (%d bytes): got %x, want %x", i, len(msgs), len(m), sums[i], want)
		}
	}
}

// TestLanesPresent: on amd64 CPUs with the SHA extensions the lanes must
// be found, or Sum silently falls back to one message at a time.
func TestLanesPresent(t *testing.T) {
	if runtime.GOARCH != "amd64" || !cpuidSHA() {
		t.Skip("no SHA extensions")
	}
	if !haveLanes {
		t.Fatal("CPU has the SHA extensions but Sum does not use its lanes")
	}
}

func TestSumEdgeLengths(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var msgs [][]byte
	for _, n := range edgeLengths {
		msgs = append(msgs, randBytes(rng, n))
	}
	checkSum(t, msgs)
	// every length alone, and with each other length beside it
	for _, a := range edgeLengths {
		checkSum(t, [][]byte{randBytes(rng, a)})
		for _, b := range edgeLengths {
			checkSum(t, [][]byte{randBytes(rng, a), randBytes(rng, b)})
		}
	}
}

// TestSumRandom: random counts of messages of random lengths, so lanes
// finish at different blocks, some stay free, and queued messages follow.
func TestSumRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		msgs := make([][]byte, rng.IntN(11))
		for i := range msgs {
			n := rng.IntN(3000)
			if rng.IntN(4) == 0 {
				n = rng.IntN(70000)
			}
			msgs[i] = randBytes(rng, n)
		}
		checkSum(t, msgs)
	}
}

// TestSumSharedAndUnaligned: messages that overlap or are the same slice,
// and start at odd addresses.
func TestSumSharedAndUnaligned(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	buf := randBytes(rng, 10000)
	checkSum(t, [][]byte{buf[1:5001], buf[3:9999], buf[1:5001], buf[7:700], buf[4096:], buf[:0]})
}

func TestLaneOrderRoundTrip(t *testing.T) {
	h := [8]uint32{1, 2, 3, 4, 5, 6, 7, 8}
	if got := fromLane(toLane(h)); got != h {
		t.Fatalf("fromLane(toLane(%v)) = %v", h, got)
	}
}

func FuzzSum(f *testing.F) {
	f.Add([]byte("abc"), uint16(0), uint16(3), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, cut1, cut2 uint16, n uint8) {
		var msgs [][]byte
		for i := range int(n % 9) {
			lo := (int(cut1) + 37*i) % (len(data) + 1)
			hi := lo + (int(cut2)+101*i)%(len(data)-lo+1)
			msgs = append(msgs, data[lo:hi])
		}
		checkSum(t, msgs)
	})
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// BenchmarkSum hashes eight 1 MiB messages, and eight chunk-sized ones of
// different lengths (0.5 to 2 MiB), with Sum and one after the other with
// crypto/sha256.
func BenchmarkSum(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	even := make([][]byte, 8)
	mixed := make([][]byte, 8)
	total := map[string]int{}
	for i := range even {
		even[i] = randBytes(rng, 1<<20)
		mixed[i] = randBytes(rng, 512<<10+rng.IntN(1536<<10))
		total["even"] += len(even[i])
		total["mixed"] += len(mixed[i])
	}
	sums := make([][sha256.Size]byte, 8)
	for _, set := range []struct {
		name string
		msgs [][]byte
	}{{"even", even}, {"mixed", mixed}} {
		b.Run(fmt.Sprintf("%s/lanes", set.name), func(b *testing.B) {
			b.SetBytes(int64(total[set.name]))
			for b.Loop() {
				Sum(sums, set.msgs)
			}
		})
		b.Run(fmt.Sprintf("%s/crypto-sha256", set.name), func(b *testing.B) {
			b.SetBytes(int64(total[set.name]))
			for b.Loop() {
				for i, m := range set.msgs {
					sums[i] = sha256.Sum256(m)
				}
			}
		})
	}
}

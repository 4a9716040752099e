package chunker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"testing"
)

const testPol = Pol(0x3DA3358B4DC173)

// testPols returns restic's test polynomial and n-1 random irreducible ones.
func testPols(t testing.TB, n int) []Pol {
	pols := []Pol{testPol}
	rnd := rand.New(rand.NewSource(42))
	for len(pols) < n {
		p, err := RandomPolynomial(rnd)
		if err != nil {
			t.Fatal(err)
		}
		pols = append(pols, p)
	}
	return pols
}

func mustTable(t testing.TB, p Pol, lim limits) *Table {
	tab, err := NewTable(p)
	if err != nil {
		t.Fatal(err)
	}
	tab.lim = lim
	return tab
}

// TestKnownVector checks restic's published chunk list for its test input.
func TestKnownVector(t *testing.T) {
	// restic's test data: 32 MiB from math/rand seeded with 23, Uint32 words.
	rnd := rand.New(rand.NewSource(23))
	data := make([]byte, 32*1024*1024)
	for i := 0; i < len(data); i += 4 {
		v := rnd.Uint32()
		data[i], data[i+1], data[i+2], data[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	got := ourChunks(t, bytes.NewReader(data), data, testPol, defaultLimits, MaxSize)
	want := []refChunk{{2163460, 0x000b98d4cdf00000}, {643703, 0x000d4e8364d00000}, {1528956, 0x0015a25c2ef00000}}
	for i, w := range want {
		if got[i] != w {
			t.Fatalf("chunk %d = %+v, want %+v", i, got[i], w)
		}
	}
	last := got[len(got)-1]
	if len(got) != 23 || last != (refChunk{237392, 1}) {
		t.Fatalf("%d chunks, last %+v; want 23, {237392 1}", len(got), last)
	}
}

func testInputs(t testing.TB) map[string][]byte {
	in := map[string][]byte{}
	r := randBytes(1, 50<<20)
	for _, n := range []int{0, 1, 63, 64, 65, 1000, MinSize - 65, MinSize - 64, MinSize - 63, MinSize - 1, MinSize, MinSize + 1,
		MinSize + 64, 2*MinSize - 1, 2 * MinSize, MaxSize - 1, MaxSize, MaxSize + 1, 3*MaxSize + 12345} {
		in[fmt.Sprintf("random/%d", n)] = r[:n]
	}
	in["random/50MiB"] = r
	in["zeros/5MiB+7"] = make([]byte, 5*MinSize*2+7)
	in["0xff/20MiB"] = bytes.Repeat([]byte{0xff}, 20<<20+3)
	// Runs of zeros and of a repeated pattern inside random data.
	mixed := append([]byte(nil), r[:24<<20]...)
	for _, run := range [][2]int{{1 << 20, 3 << 20}, {5<<20 + 17, 5<<20 + 600000}, {9 << 20, 19 << 20}} {
		clear(mixed[run[0]:run[1]])
	}
	for i := 20 << 20; i < 23<<20; i++ {
		mixed[i] = byte(i % 200)
	}
	in["mixed/24MiB"] = mixed
	return in
}

// TestAgainstRestic compares with github.com/restic/chunker on many sizes
// and polynomials, through Next (with odd buffers and short reads), Cuts
// and CutsParallel.
func TestAgainstRestic(t *testing.T) {
	inputs := testInputs(t)
	pols := testPols(t, 5)
	for name, data := range inputs {
		for pi, pol := range pols {
			if len(data) > 16<<20 && pi > 1 && testing.Short() {
				continue
			}
			want := resticChunks(t, data, pol, defaultLimits)
			what := fmt.Sprintf("%s pol %v", name, pol)
			got := ourChunks(t, bytes.NewReader(data), data, pol, defaultLimits, MaxSize)
			equalChunks(t, what+" Next", got, want)
			tab := mustTable(t, pol, defaultLimits)
			equalInts(t, what+" Cuts", tab.Cuts(data, true, nil), cutsOf(want))
			equalInts(t, what+" CutsParallel", tab.CutsParallel(data, true, nil, 3), cutsOf(want))
			if pi == 0 {
				// Small initial buffer (grown by Next) and a reader
				// returning short reads.
				sr := &shortReader{bytes.NewReader(data), rand.New(rand.NewSource(int64(len(data)))), 70001}
				got := ourChunks(t, sr, data, pol, defaultLimits, 1000)
				equalChunks(t, what+" short reads", got, want)
			}
		}
	}
}

// TestReference compares with the byte-at-a-time reference implementation
// using restic's real limits on moderate inputs.
func TestReference(t *testing.T) {
	data := randBytes(7, 6<<20)
	clear(data[4<<20 : 4<<20+MinSize+100])
	for _, pol := range testPols(t, 2) {
		want := refChunks(data, pol, MinSize, MaxSize, 1<<20-1)
		got := ourChunks(t, bytes.NewReader(data), data, pol, defaultLimits, MaxSize)
		equalChunks(t, "reference", got, want)
	}
}

// TestSmallLimits exercises many boundaries by using small limits (an
// internal test hook), comparing against both the reference and restic.
func TestSmallLimits(t *testing.T) {
	pols := testPols(t, 5)
	lims := []limits{{64, 1 << 12, 1<<8 - 1}, {128, 1 << 14, 1<<10 - 1}, {1000, 5000, 1<<12 - 1}, {4096, 1 << 16, 1<<13 - 1}}
	rnd := rand.New(rand.NewSource(3))
	for i := 0; i < 60; i++ {
		pol := pols[i%len(pols)]
		lim := lims[i%len(lims)]
		n := rnd.Intn(300000)
		data := randBytes(int64(i), n)
		if i%3 == 0 && n > 0 {
			a := rnd.Intn(n)
			b := a + rnd.Intn(n-a+1)
			clear(data[a:b])
		}
		want := refChunks(data, pol, lim.min, lim.max, lim.mask)
		equalChunks(t, "restic vs reference", resticChunks(t, data, pol, lim), want)
		got := ourChunks(t, bytes.NewReader(data), data, pol, lim, 100)
		equalChunks(t, fmt.Sprintf("case %d", i), got, want)
		tab := mustTable(t, pol, lim)
		equalInts(t, "Cuts", tab.Cuts(data, true, nil), cutsOf(want))
	}
}

// TestCutsWindows feeds Cuts a stream in windows (final=false), as the
// backup pipeline does, keeping the incomplete tail.
func TestCutsWindows(t *testing.T) {
	data := randBytes(11, 40<<20)
	tab := mustTable(t, testPol, defaultLimits)
	want := tab.Cuts(data, true, nil)
	equalInts(t, "restic", want, cutsOf(resticChunks(t, data, testPol, defaultLimits)))
	var got []int
	base := 0
	rnd := rand.New(rand.NewSource(5))
	end := 0
	for base < len(data) {
		end += 1 + rnd.Intn(3*MaxSize)
		if end > len(data) {
			end = len(data)
		}
		final := end == len(data)
		cs := tab.Cuts(data[base:end], final, nil)
		if final && (len(cs) == 0 || cs[len(cs)-1] != end-base) {
			t.Fatalf("final Cuts does not end at the end")
		}
		for _, c := range cs {
			got = append(got, base+c)
		}
		if len(cs) > 0 {
			base += cs[len(cs)-1]
		}
		if final {
			break
		}
	}
	equalInts(t, "windows", got, want)
	ps := tab.CutsParallel(data[:len(data)-5], false, nil, 2)
	equalInts(t, "parallel, not final", ps, tab.Cuts(data[:len(data)-5], false, nil))
}

// TestParallelResync checks CutsParallel on data where speculative chains
// cannot resynchronise, and with more workers than useful.
func TestParallelResync(t *testing.T) {
	tab := mustTable(t, testPol, defaultLimits)
	r := randBytes(9, 70<<20)
	ff := bytes.Repeat([]byte{0xff}, 70<<20) // MaxSize chunks everywhere
	zeros := make([]byte, 70<<20+MinSize/3)
	half := append(append([]byte(nil), r[:35<<20+99]...), ff[:35<<20]...)
	for name, d := range map[string][]byte{"random": r, "ff": ff, "zeros": zeros, "half": half} {
		want := tab.Cuts(d, true, nil)
		for _, w := range []int{2, 3, 7, 64} {
			equalInts(t, fmt.Sprintf("%s workers %d", name, w), tab.CutsParallel(d, true, nil, w), want)
		}
	}
}

func TestZerosAndConstant(t *testing.T) {
	tab := mustTable(t, testPol, defaultLimits)
	// The window over 64 zero bytes has fingerprint 0, so zeros cut at
	// exactly MinSize.
	for _, c := range tab.Cuts(make([]byte, 4*MinSize), true, nil) {
		if c%MinSize != 0 {
			t.Fatalf("zero chunk ends at %d", c)
		}
	}
	// A constant byte whose window fingerprint has non-zero low bits
	// never cuts before MaxSize.
	cs := tab.Cuts(bytes.Repeat([]byte{0xff}, 3*MaxSize), true, nil)
	equalInts(t, "0xff", cs, []int{MaxSize, 2 * MaxSize, 3 * MaxSize})
}

func TestBadPolynomial(t *testing.T) {
	for _, p := range []Pol{0, 1, 0xff, 1 << 54, 1<<63 | 1} {
		c := New(bytes.NewReader([]byte("abc")), p)
		if _, err := c.Next(nil); err == nil || errors.Is(err, io.EOF) {
			t.Errorf("pol %v: Next returned %v, want an error", p, err)
		}
		if _, err := NewTable(p); err == nil {
			t.Errorf("NewTable(%v) succeeded", p)
		}
	}
	// Degree 8 is accepted by restic; so by us.
	data := randBytes(2, 3<<20)
	p := Pol(0x11b)
	equalChunks(t, "deg 8", ourChunks(t, bytes.NewReader(data), data, p, defaultLimits, 0), resticChunks(t, data, p, defaultLimits))
}

func TestReset(t *testing.T) {
	data := randBytes(4, 5<<20)
	pols := testPols(t, 2)
	c := New(bytes.NewReader(data), pols[0])
	buf := make([]byte, MaxSize)
	if _, err := c.Next(buf); err != nil {
		t.Fatal(err)
	}
	c.Reset(bytes.NewReader(data), pols[1])
	var got []refChunk
	for {
		ch, err := c.Next(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, refChunk{ch.Length, ch.Cut})
	}
	equalChunks(t, "after Reset", got, resticChunks(t, data, pols[1], defaultLimits))
	if _, err := c.Next(buf); err != io.EOF {
		t.Fatalf("Next after EOF: %v", err)
	}
}

type errReader struct{ n int }

func (e *errReader) Read(p []byte) (int, error) {
	if e.n == 0 {
		return 0, errors.New("boom")
	}
	k := min(len(p), e.n)
	clear(p[:k])
	e.n -= k
	return k, nil
}

func TestReadError(t *testing.T) {
	c := New(&errReader{n: 3 * MinSize}, testPol)
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		_, err = c.Next(nil)
	}
	if err == nil || err == io.EOF {
		t.Fatalf("got %v, want read error", err)
	}
}

// FuzzChunker compares the chunker with small limits against the
// reference on fuzzer input.
func FuzzChunker(f *testing.F) {
	f.Add([]byte("hello"), uint8(0), uint16(300))
	f.Add(make([]byte, 5000), uint8(1), uint16(64))
	f.Add(randBytes(1, 20000), uint8(2), uint16(1000))
	pols := testPols(f, 3)
	f.Fuzz(func(t *testing.T, data []byte, pi uint8, min16 uint16) {
		pol := pols[int(pi)%len(pols)]
		minSize := 64 + int(min16)%2048
		lim := limits{min: minSize, max: minSize + 4096, mask: 1<<7 - 1}
		want := refChunks(data, pol, lim.min, lim.max, lim.mask)
		got := ourChunks(t, bytes.NewReader(data), data, pol, lim, 0)
		equalChunks(t, "fuzz", got, want)
		tab := mustTable(t, pol, lim)
		equalInts(t, "fuzz Cuts", tab.Cuts(data, true, nil), cutsOf(want))
	})
}

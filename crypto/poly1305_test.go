package crypto

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/poly1305"
)

// polyTestKeys are one-time keys of the kinds that stress the arithmetic:
// random ones, r with every bit the clamp allows (largest limbs), r with
// every bit set before clamping, s all ones (the final addition wraps).
func polyTestKeys(rng *rand.Rand) map[string]*[32]byte {
	keys := map[string]*[32]byte{}
	random := func() *[32]byte {
		var k [32]byte
		for i := range k {
			k[i] = byte(rng.Uint32())
		}
		return &k
	}
	keys["random"] = random()
	maxR := random()
	for i := range 16 {
		maxR[i] = 0xff
	}
	keys["r all ones"] = maxR
	clampedMaxR := random()
	copy(clampedMaxR[:16], maxR[:16])
	clampR((*[16]byte)(clampedMaxR[:16]))
	keys["r clamped all ones"] = clampedMaxR
	maxS := random()
	for i := 16; i < 32; i++ {
		maxS[i] = 0xff
	}
	keys["s all ones"] = maxS
	var allOnes [32]byte
	for i := range allOnes {
		allOnes[i] = 0xff
	}
	keys["all ones"] = &allOnes
	return keys
}

func polyTestMessages(rng *rand.Rand, n int) map[string][]byte {
	random := make([]byte, n)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	return map[string][]byte{
		"random": random,
		"0xff":   bytes.Repeat([]byte{0xff}, n),
		"zero":   make([]byte, n),
	}
}

// checkPolySum compares poly1305Sum, the implementations behind it on
// this architecture (polyImplsToTest) and, if scalar, polySumScalar with
// golang.org/x/crypto/poly1305.Sum.
func checkPolySum(t *testing.T, name string, msg []byte, key *[32]byte, scalar bool) {
	t.Helper()
	var want, got [16]byte
	poly1305.Sum(&want, msg, key)
	impls := polyImplsToTest()
	impls["poly1305Sum"] = poly1305Sum
	if scalar {
		impls["scalar"] = polySumScalar
	}
	for iname, sum := range impls {
		sum(&got, msg, key)
		if got != want {
			t.Fatalf("%s, %d bytes: %s tag %x, want %x", name, len(msg), iname, got, want)
		}
	}
}

func TestPolySumEveryLength(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const maxLen = 2100
	msgs := polyTestMessages(rng, maxLen)
	for kname, key := range polyTestKeys(rng) {
		for mname, msg := range msgs {
			for n := 0; n <= maxLen; n++ {
				checkPolySum(t, kname+", "+mname, msg[:n], key, kname == "random" || kname == "all ones")
			}
		}
	}
}

func TestPolySumLong(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// 3071..3073 straddle amd64's polyVectorMin.
	for _, n := range []int{3071, 3072, 3073, 1<<20 + 3, 8 << 20} {
		msgs := polyTestMessages(rng, n)
		for kname, key := range polyTestKeys(rng) {
			for mname, msg := range msgs {
				checkPolySum(t, kname+", "+mname, msg, key, false)
			}
		}
	}
}

// TestPolySumRFC8439 is the example of RFC 8439, section 2.5.2, for the
// scalar code, and the same key over a message long enough for the vector
// code, against x/crypto.
func TestPolySumRFC8439(t *testing.T) {
	keyHex := "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b"
	var key [32]byte
	if _, err := hex.Decode(key[:], []byte(keyHex)); err != nil {
		t.Fatal(err)
	}
	msg := []byte("Cryptographic Forum Research Group")
	var tag [16]byte
	polySumScalar(&tag, msg, &key)
	if got, want := hex.EncodeToString(tag[:]), "a8061dc1305136c6c22b8baf0c0127a9"; got != want {
		t.Fatalf("tag %s, want %s", got, want)
	}
	poly1305Sum(&tag, msg, &key)
	if got, want := hex.EncodeToString(tag[:]), "a8061dc1305136c6c22b8baf0c0127a9"; got != want {
		t.Fatalf("poly1305Sum tag %s, want %s", got, want)
	}
	checkPolySum(t, "RFC 8439 key", bytes.Repeat(msg, 100), &key, true)
}

var polyP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 130), big.NewInt(5))

func polyBig(a polyElem) *big.Int {
	v := new(big.Int)
	for i := 4; i >= 0; i-- {
		v.Lsh(v, 26)
		v.Add(v, new(big.Int).SetUint64(a[i]))
	}
	return v
}

// polyElemOf splits v < 2^130 into 26-bit limbs.
func polyElemOf(v *big.Int) polyElem {
	var a polyElem
	mask := big.NewInt(limbMask)
	v = new(big.Int).Set(v)
	for i := range a {
		a[i] = new(big.Int).And(v, mask).Uint64()
		v.Rsh(v, 26)
	}
	return a
}

// TestPolyMul checks polyMul against math/big for limbs up to the largest
// it accepts (2^29-1), and that its results have limbs below 2^27.
func TestPolyMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	elem := func() polyElem {
		var a polyElem
		for i := range a {
			switch rng.IntN(3) {
			case 0:
				a[i] = 1<<29 - 1
			case 1:
				a[i] = rng.Uint64N(1 << 29)
			default:
				a[i] = rng.Uint64N(1 << 26)
			}
		}
		return a
	}
	for range 2000 {
		a, b := elem(), elem()
		got := polyMul(a, b)
		for i, l := range got {
			if l >= 1<<27 {
				t.Fatalf("polyMul(%x, %x) limb %d = %#x, not below 2^27", a, b, i, l)
			}
		}
		want := new(big.Int).Mul(polyBig(a), polyBig(b))
		want.Mod(want, polyP)
		if g := new(big.Int).Mod(polyBig(got), polyP); g.Cmp(want) != 0 {
			t.Fatalf("polyMul(%x, %x) = %v mod p, want %v", a, b, g, want)
		}
	}
}

// TestPolyTag checks the final reduction and the addition of s around
// the values where it can go wrong: near p, near 2^130, and with limbs
// not carried (as large as polyTag accepts).
func TestPolyTag(t *testing.T) {
	two130 := new(big.Int).Lsh(big.NewInt(1), 130)
	two128 := new(big.Int).Lsh(big.NewInt(1), 128)
	var cases []polyElem
	for _, d := range []int64{-6, -5, -1, 0, 1, 4, 5, 6} {
		cases = append(cases, polyElemOf(new(big.Int).Add(polyP, big.NewInt(d))))
	}
	cases = append(cases, polyElemOf(new(big.Int).Sub(two130, big.NewInt(1))), polyElem{})
	cases = append(cases, polyElem{1<<32 - 1, 1<<32 - 1, 1<<32 - 1, 1<<32 - 1, 1<<32 - 1})
	rng := rand.New(rand.NewPCG(7, 8))
	for range 500 {
		var a polyElem
		for i := range a {
			a[i] = rng.Uint64N(1 << 32)
		}
		cases = append(cases, a)
	}
	for _, s := range [][16]byte{{}, {0: 1}, bytes16(0xff)} {
		sBig := new(big.Int).SetBytes(reversed(s[:]))
		for _, h := range cases {
			want := new(big.Int).Mod(polyBig(h), polyP)
			want.Add(want, sBig).Mod(want, two128)
			var tag [16]byte
			polyTag(&tag, h, s[:])
			if got := new(big.Int).SetBytes(reversed(tag[:])); got.Cmp(want) != 0 {
				t.Fatalf("polyTag(%x, s=%x) = %x, want %x", h, s, got, want)
			}
		}
	}
}

func bytes16(b byte) (a [16]byte) {
	for i := range a {
		a[i] = b
	}
	return a
}

func reversed(b []byte) []byte {
	r := make([]byte, len(b))
	for i, c := range b {
		r[len(b)-1-i] = c
	}
	return r
}

func BenchmarkPoly1305(b *testing.B) {
	var key [32]byte
	for i := range key {
		key[i] = byte(i*7 + 1)
	}
	impls := []struct {
		name string
		sum  func(*[16]byte, []byte, *[32]byte)
	}{
		{"xcrypto", poly1305.Sum},
		{"arca", poly1305Sum},
	}
	for _, size := range []struct {
		name string
		n    int
	}{{"64B", 64}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1.5MiB", 3 << 19}} {
		msg := pattern(size.n)
		for _, impl := range impls {
			b.Run(size.name+"/"+impl.name, func(b *testing.B) {
				var tag [16]byte
				b.SetBytes(int64(size.n))
				for b.Loop() {
					impl.sum(&tag, msg, &key)
				}
			})
		}
	}
}

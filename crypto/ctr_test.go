package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"io"
	"math/rand/v2"
	"testing"
)

// needVAES skips tests of the VAES counter mode where the CPU lacks it.
func needVAES(t *testing.T) {
	t.Helper()
	if !haveVAES {
		t.Skip("no VAES counter mode on this CPU")
	}
}

// testRand is a reproducible source of test data.
func testRand(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return rand.NewChaCha8(s)
}

// vaesStream returns the VAES stream and crypto/cipher's CTR for key and iv.
func vaesStream(t *testing.T, key *[32]byte, iv []byte) (*ctrStream, cipher.Stream) {
	t.Helper()
	keys := new(roundKeys)
	expandKey256(keys, key)
	s := newCTRStream(keys, iv)
	blk, err := aes.NewCipher(key[:])
	if err != nil {
		t.Fatal(err)
	}
	return &s, cipher.NewCTR(blk, iv)
}

// edgeIVs are counters that carry or wrap within a few blocks: the low
// word (bytes 8..15) all ones or just below, the whole counter all ones.
func edgeIVs(t testing.TB, r io.Reader) [][]byte {
	ivs := [][]byte{
		unhex(t, "00000000000000000000000000000000"),
		unhex(t, "0123456789abcdefffffffffffffffff"),
		unhex(t, "0123456789abcdeffffffffffffffff0"), // wraps inside the first 16 blocks
		unhex(t, "0123456789abcdeffffffffffffffffd"),
		unhex(t, "00000000000000fffffffffffffffffe"),
		unhex(t, "ffffffffffffffffffffffffffffffff"), // the whole counter wraps to 0
		unhex(t, "fffffffffffffffffffffffffffffff3"),
		unhex(t, "fffffffffffffffeffffffffffffffff"),
		unhex(t, "0000000000000000fffffffffffffc00"), // wraps after 64 KiB
	}
	for range 3 {
		iv := make([]byte, 16)
		_, _ = io.ReadFull(r, iv)
		ivs = append(ivs, iv)
	}
	return ivs
}

func randomKey(r io.Reader) *[32]byte {
	var k [32]byte
	_, _ = io.ReadFull(r, k[:])
	return &k
}

// TestExpandKey256: the FIPS-197 appendix C.3 vector, and encrypting one
// block (the keystream of a counter block is its encryption) under random
// keys gives what crypto/aes gives.
func TestExpandKey256(t *testing.T) {
	needVAES(t)
	key := (*[32]byte)(unhex(t, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"))
	s, _ := vaesStream(t, key, unhex(t, "00112233445566778899aabbccddeeff"))
	got := make([]byte, 16)
	s.XORKeyStream(got, got)
	if want := unhex(t, "8ea2b7ca516745bfeafc49904b496089"); !bytes.Equal(got, want) {
		t.Fatalf("FIPS-197 C.3: %x, want %x", got, want)
	}

	r := testRand(1)
	for i := range 200 {
		key := randomKey(r)
		block := make([]byte, 16)
		_, _ = io.ReadFull(r, block)
		s, _ := vaesStream(t, key, block)
		got := make([]byte, 16)
		s.XORKeyStream(got, got)
		blk, _ := aes.NewCipher(key[:])
		want := make([]byte, 16)
		blk.Encrypt(want, block)
		if !bytes.Equal(got, want) {
			t.Fatalf("key %d %x: E(%x) = %x, want %x", i, key, block, got, want)
		}
	}
}

// TestCTRMatchesCipher: every length from 0 to 600 bytes and a few large
// ones, under random keys and counters that carry or wrap, give the
// bytes crypto/cipher's CTR gives, in one call.
func TestCTRMatchesCipher(t *testing.T) {
	needVAES(t)
	r := testRand(2)
	large := []int{1<<20 + 13, 16*17 + 5, 64<<10 + 16, 64<<10 - 1}
	for _, iv := range edgeIVs(t, r) {
		key := randomKey(r)
		src := make([]byte, 1<<20+13)
		_, _ = io.ReadFull(r, src)
		lengths := large
		for n := 0; n <= 600; n++ {
			lengths = append(lengths, n)
		}
		for _, n := range lengths {
			s, ref := vaesStream(t, key, iv)
			got := make([]byte, n+16)
			want := make([]byte, n+16)
			s.XORKeyStream(got[:n], src[:n])
			ref.XORKeyStream(want[:n], src[:n])
			if !bytes.Equal(got, want) { // also: nothing written past n
				t.Fatalf("iv %x, %d bytes: first difference at %d", iv, n, firstDiff(got, want))
			}
		}
	}
}

// TestCTRStreaming: a stream fed chunks of random sizes, partial blocks
// included, continues the keystream as crypto/cipher's CTR does.
func TestCTRStreaming(t *testing.T) {
	needVAES(t)
	r := testRand(3)
	for _, iv := range edgeIVs(t, r) {
		key := randomKey(r)
		src := make([]byte, 200000)
		_, _ = io.ReadFull(r, src)
		s, ref := vaesStream(t, key, iv)
		want := make([]byte, len(src))
		ref.XORKeyStream(want, src)

		got := make([]byte, len(src))
		for off := 0; off < len(src); {
			n := chunkSize(r)
			n = min(n, len(src)-off)
			s.XORKeyStream(got[off:off+n], src[off:off+n])
			off += n
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("iv %x: first difference at %d", iv, firstDiff(got, want))
		}
	}
}

// chunkSize is mostly small and odd, sometimes zero, sometimes many blocks.
func chunkSize(r *rand.ChaCha8) int {
	switch x := r.Uint64(); x % 8 {
	case 0:
		return 0
	case 1:
		return int(x>>8) % 5000
	default:
		return int(x>>8) % 40
	}
}

// TestCTRInPlace: dst == src gives the same bytes as separate buffers,
// and buffers that overlap other than exactly are refused, as
// crypto/cipher refuses them.
func TestCTRInPlace(t *testing.T) {
	needVAES(t)
	r := testRand(4)
	for _, iv := range edgeIVs(t, r) {
		key := randomKey(r)
		for _, n := range []int{1, 15, 16, 47, 48, 64, 255, 256, 257, 4096 + 9} {
			buf := make([]byte, n)
			_, _ = io.ReadFull(r, buf)
			want := make([]byte, n)
			s, ref := vaesStream(t, key, iv)
			ref.XORKeyStream(want, buf)
			split := min(n, 3) // a partial block first
			s.XORKeyStream(buf[:split], buf[:split])
			s.XORKeyStream(buf[split:], buf[split:])
			if !bytes.Equal(buf, want) {
				t.Fatalf("iv %x, %d bytes in place: first difference at %d", iv, n, firstDiff(buf, want))
			}
		}
	}
	s, _ := vaesStream(t, randomKey(r), make([]byte, 16))
	buf := make([]byte, 100)
	defer func() {
		if recover() == nil {
			t.Fatal("inexact overlap was accepted")
		}
	}()
	s.XORKeyStream(buf[1:], buf[:99])
}

// TestCipherFallback: a Cipher on crypto/cipher's CTR (the only one
// where there is no VAES) and one on the VAES counter mode produce and
// accept each other's blobs, in Open, OpenReader and in place.
func TestCipherFallback(t *testing.T) {
	k := NewRandomKey()
	var fallback, native Cipher
	k.prepare(&fallback, false)
	k.prepare(&native, haveVAES)
	if fallback.enc == nil {
		t.Fatal("prepare(false) did not set up crypto/cipher's CTR")
	}
	r := testRand(5)
	for _, iv := range edgeIVs(t, r) {
		for _, n := range []int{0, 1, 17, 256, 70000} {
			pt := pattern(n)
			a, b := make([]byte, n), make([]byte, n)
			fallback.xorCTR([ivSize]byte(iv), a, pt)
			native.xorCTR([ivSize]byte(iv), b, pt)
			if !bytes.Equal(a, b) {
				t.Fatalf("iv %x, %d bytes: keystreams differ at %d", iv, n, firstDiff(a, b))
			}
		}
	}
	for _, pair := range [][2]*Cipher{{&fallback, &native}, {&native, &fallback}, {&fallback, &fallback}} {
		seal, open := pair[0], pair[1]
		for _, n := range []int{0, 5, 16, 1000, 70001} {
			pt := pattern(n)
			sealed := seal.Seal(nil, pt)
			if got, err := open.Open(nil, sealed); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("vaes %v -> %v, %d bytes: %v", seal.enc == nil, open.enc == nil, n, err)
			}
			rd, err := open.OpenReader(sealed)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := io.ReadAll(rd); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("vaes %v -> reader %v, %d bytes: %v", seal.enc == nil, open.enc == nil, n, err)
			}
			if got, err := open.Open(sealed[:0], sealed); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("vaes %v -> in place %v, %d bytes: %v", seal.enc == nil, open.enc == nil, n, err)
			}
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

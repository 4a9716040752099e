package crypto

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/scrypt"
)

// TestScryptRFC7914 checks scryptKey against the test vectors of RFC 7914
// (the large N=2^20 one is left out to keep the test quick).
func TestScryptRFC7914(t *testing.T) {
	for _, v := range []struct {
		pw, salt string
		p        Params
		want     string
	}{
		{"", "", Params{N: 16, R: 1, P: 1}, "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"},
		{"password", "NaCl", Params{N: 1024, R: 8, P: 16}, "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"},
		{"pleaseletmein", "SodiumChloride", Params{N: 16384, R: 8, P: 1}, "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"},
	} {
		got, err := scryptKey(v.pw, []byte(v.salt), v.p, 64)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != v.want {
			t.Errorf("scrypt(%q, %q, %+v) = %x, want %s", v.pw, v.salt, v.p, got, v.want)
		}
	}
}

// TestScryptMatchesXCrypto compares scryptKey with golang.org/x/crypto's
// scrypt over several shapes of parameters.
func TestScryptMatchesXCrypto(t *testing.T) {
	salt := bytes.Repeat([]byte{7, 1, 9}, 22)[:SaltSize]
	for _, p := range []Params{{N: 2, R: 1, P: 1}, {N: 4, R: 2, P: 3}, {N: 64, R: 8, P: 2}, {N: 512, R: 3, P: 1}, {N: 1024, R: 1, P: 5}} {
		for _, keyLen := range []int{1, 64, 100} {
			want, err := scrypt.Key([]byte("pass word"), salt, p.N, p.R, p.P, keyLen)
			if err != nil {
				t.Fatal(err)
			}
			got, err := scryptKey("pass word", salt, p, keyLen)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%+v len %d: %x, want %x", p, keyLen, got, want)
			}
		}
	}
}

// TestScryptRandomMatchesXCrypto compares scryptKey with
// golang.org/x/crypto's scrypt on random passwords, salts and small
// parameters (p up to 5, so with GOMAXPROCS above 1 lanes run two at a
// time on half tables, an odd last lane alone, and p=1 as ever).
func TestScryptRandomMatchesXCrypto(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for range 40 {
		pw := make([]byte, rng.IntN(40))
		salt := make([]byte, 1+rng.IntN(80))
		for i := range pw {
			pw[i] = byte(rng.Uint32())
		}
		for i := range salt {
			salt[i] = byte(rng.Uint32())
		}
		p := Params{N: 2 << rng.IntN(10), R: 1 + rng.IntN(9), P: 1 + rng.IntN(5)}
		keyLen := 1 + rng.IntN(100)
		want, err := scrypt.Key(pw, salt, p.N, p.R, p.P, keyLen)
		if err != nil {
			t.Fatal(err)
		}
		got, err := scryptKey(string(pw), salt, p, keyLen)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%+v password %x salt %x: %x, want %x", p, pw, salt, got, want)
		}
	}
}

// mixers are every BlockMix this architecture has.
func mixers() []*mixer { return append([]*mixer{&genericMixer}, archMixers...) }

// TestScryptSplitTableMatchesXCrypto compares scryptKey, with every
// BlockMix of the architecture, from one to eight lanes running at once
// on parts of the table, and tables of all, half and a quarter of V (so
// lanes keep every block up to every 32nd), with golang.org/x/crypto's
// scrypt: for N down to 2 (one kept block per part), r 1, 2 and 8, and p
// from 2 to 6 (odd p leaves a last lane that runs alone with the whole
// table).
func TestScryptSplitTableMatchesXCrypto(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{2, 4, 16, 1024} {
		for _, r := range []int{1, 2, 8} {
			for _, lanes := range []int{2, 3, 5, 6} {
				p := Params{N: n, R: r, P: lanes}
				pw := make([]byte, rng.IntN(20))
				salt := make([]byte, SaltSize)
				for i := range pw {
					pw[i] = byte(rng.Uint32())
				}
				for i := range salt {
					salt[i] = byte(rng.Uint32())
				}
				want, err := scrypt.Key(pw, salt, n, r, lanes, 64)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range mixers() {
					for _, workers := range []int{1, 2, 3, 4, 8} {
						for _, shrink := range []int{1, 2, 4} {
							got, err := scryptKeyWith(string(pw), salt, p, 64, m, workers, shrink)
							if err != nil {
								t.Fatal(err)
							}
							if !bytes.Equal(got, want) {
								t.Errorf("%+v with BlockMix %s, %d workers and 1/%d of V: %x, want %x", p, m.name, workers, shrink, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestFastestMixer: of two mixers computing the same BlockMix, the one
// that takes visibly longer is never chosen, in either order; and the
// choice made for this process is one of the architecture's mixers.
func TestFastestMixer(t *testing.T) {
	slow := genericMixer
	slow.name = "slow"
	slow.mix = func(out, in []uint32, r int) {
		time.Sleep(50 * time.Microsecond)
		blockMixGeneric(out, in, r)
	}
	for _, order := range [][]*mixer{{&slow, &genericMixer}, {&genericMixer, &slow}} {
		if got := fastestMixer(order...); got != &genericMixer {
			t.Errorf("fastestMixer(%s, %s) chose %s", order[0].name, order[1].name, got.name)
		}
	}
	if best := bestMixer(); !slices.Contains(mixers(), best) {
		t.Errorf("bestMixer() is %s, not one of this architecture's", best.name)
	}
}

// TestROMixSparseTable: ROMix with a table keeping every stride-th block
// of V leaves the same result as with the whole table, for strides up to
// N, and writes nothing beyond its n/stride blocks of the table.
func TestROMixSparseTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, r := range []int{1, 3} {
		for _, n := range []int{2, 8, 64} {
			w := 32 * r
			in := make([]uint32, w)
			for i := range in {
				in[i] = rng.Uint32()
			}
			want := slices.Clone(in)
			runLanes([][]uint32{want}, make([]uint32, n*w), n, r, 1, &genericMixer)
			for stride := 2; stride <= n; stride *= 2 {
				got := slices.Clone(in)
				v := make([]uint32, n*w)
				runLanes([][]uint32{got}, v[:n/stride*w], n, r, stride, &genericMixer)
				if !slices.Equal(got, want) {
					t.Errorf("r=%d N=%d stride %d: ROMix differs from the whole-table one", r, n, stride)
				}
				if slices.ContainsFunc(v[n/stride*w:], func(x uint32) bool { return x != 0 }) {
					t.Errorf("r=%d N=%d stride %d: wrote past its part of the table", r, n, stride)
				}
			}
		}
	}
}

// TestTableStride: lanes run at once in powers of two, never more than
// the workers, the lanes left or N allow, and at least one.
func TestTableStride(t *testing.T) {
	for _, c := range []struct{ lanes, n, workers, want int }{
		{1, 1024, 2, 1}, {6, 1024, 1, 1}, {6, 1024, 2, 2}, {3, 1024, 2, 2},
		{6, 1024, 3, 2}, {6, 1024, 4, 4}, {6, 1024, 64, 4}, {9, 1024, 8, 8},
		{9, 2, 8, 2}, {9, 4, 8, 4}, {2, 1024, 0, 1},
	} {
		if got := tableStride(c.lanes, c.n, c.workers); got != c.want {
			t.Errorf("tableStride(%d lanes, N=%d, %d workers) = %d, want %d", c.lanes, c.n, c.workers, got, c.want)
		}
	}
}

// BenchmarkScrypt derives a key with parameters restic's calibration
// typically picks (N=2^15 or 2^14, r=8, p from 1 to 7), with arca's scrypt
// and with golang.org/x/crypto's, which restic uses.
func BenchmarkScrypt(b *testing.B) {
	salt := make([]byte, SaltSize)
	for _, p := range []Params{{N: 1 << 15, R: 8, P: 1}, {N: 1 << 15, R: 8, P: 3}, {N: 1 << 14, R: 8, P: 4}, {N: 1 << 15, R: 8, P: 6}} {
		name := fmt.Sprintf("N=%d,r=%d,p=%d", p.N, p.R, p.P)
		for _, shrink := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("%s/arca-table=1/%d", name, shrink), func(b *testing.B) {
				for b.Loop() {
					if _, err := scryptKeyWith("x", salt, p, 64, bestMixer(), runtime.GOMAXPROCS(0), shrink); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(name+"/xcrypto", func(b *testing.B) {
			for b.Loop() {
				if _, err := scrypt.Key([]byte("x"), salt, p.N, p.R, p.P, 64); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

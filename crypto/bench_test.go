package crypto

import (
	"testing"
)

var benchSizes = []struct {
	name string
	n    int
}{
	{"4KiB", 4 << 10},
	{"1MiB", 1 << 20},
	{"8MiB", 8 << 20},
}

func BenchmarkSeal(b *testing.B) {
	k := NewRandomKey()
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			pt := pattern(s.n)
			buf := make([]byte, 0, s.n+Extension)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				buf = k.Seal(buf[:0], pt)
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	k := NewRandomKey()
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			ct := k.Seal(nil, pattern(s.n))
			buf := make([]byte, 0, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = k.Open(buf[:0], ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCipherSeal(b *testing.B) {
	c := NewRandomKey().Cipher()
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			pt := pattern(s.n)
			buf := make([]byte, 0, s.n+Extension)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				buf = c.Seal(buf[:0], pt)
			}
		})
	}
}

func BenchmarkCipherOpen(b *testing.B) {
	k := NewRandomKey()
	c := k.Cipher()
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			ct := k.Seal(nil, pattern(s.n))
			buf := make([]byte, 0, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = c.Open(buf[:0], ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMAC(b *testing.B) {
	k := NewRandomKey()
	var nonce [ivSize]byte
	nonce[0] = 1
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			msg := pattern(s.n)
			var tag [macSize]byte
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				k.MACKey.mac(&tag, &nonce, msg)
			}
		})
	}
}

func BenchmarkKDFDefault(b *testing.B) {
	salt := pattern(SaltSize)
	for b.Loop() {
		if _, err := KDF(DefaultParams, salt, "password"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCTR: the AES-256-CTR keystream alone, crypto/cipher's ("go")
// against the VAES counter mode ("vaes").
func BenchmarkCTR(b *testing.B) {
	k := NewRandomKey()
	var fallback, native Cipher
	k.prepare(&fallback, false)
	k.prepare(&native, haveVAES)
	iv := [ivSize]byte(pattern(ivSize))
	for _, s := range benchSizes {
		for _, impl := range []struct {
			name string
			c    *Cipher
		}{{"go", &fallback}, {"vaes", &native}} {
			if impl.name == "vaes" && !haveVAES {
				continue
			}
			b.Run(s.name+"/"+impl.name, func(b *testing.B) {
				buf := pattern(s.n)
				b.SetBytes(int64(s.n))
				b.ReportAllocs()
				for b.Loop() {
					impl.c.xorCTR(iv, buf, buf)
				}
			})
		}
	}
}

package crypto

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func FuzzParseKeyFile(f *testing.F) {
	if dir, err := os.ReadDir(filepath.Join("testdata", "restic-0.19.1", "keys")); err == nil {
		for _, e := range dir {
			if b, err := os.ReadFile(filepath.Join("testdata", "restic-0.19.1", "keys", e.Name())); err == nil {
				f.Add(b)
			}
		}
	}
	kf, err := NewKeyFile(testKey(), "pw", Params{N: 16, R: 1, P: 1}, "u", "h", time.Unix(1700000000, 0).UTC())
	if err != nil {
		f.Fatal(err)
	}
	b, _ := kf.Marshal()
	f.Add(b)
	f.Add([]byte(`{"kdf":"scrypt","N":16,"r":1,"p":1,"salt":"","data":""}`))
	f.Add([]byte(`{"created":"2020-01-01T00:00:00Z","kdf":"scrypt","N":2,"r":1,"p":1}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"N":1e400}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := ParseKeyFile(data)
		if err != nil {
			return
		}
		b, err := kf.Marshal()
		if err != nil {
			return // e.g. a year outside [0,9999] parses but cannot be marshalled
		}
		kf2, err := ParseKeyFile(b)
		if err != nil {
			t.Fatalf("cannot parse own output %s: %v", b, err)
		}
		if b2, _ := kf2.Marshal(); !bytes.Equal(b, b2) {
			t.Fatalf("marshal not stable:\n%s\n%s", b, b2)
		}
		// Open only with parameters cheap enough for fuzzing.
		if kf.N > 0 && kf.N <= 1024 && kf.R > 0 && kf.R <= 8 && kf.P > 0 && kf.P <= 2 {
			if k, err := kf.Open("pw"); err == nil && !k.Valid() {
				t.Fatal("Open returned an invalid key without error")
			}
		}
	})
}

func FuzzOpen(f *testing.F) {
	k := testKey()
	f.Add([]byte{})
	f.Add(make([]byte, Extension))
	f.Add(k.Seal(nil, nil))
	f.Add(k.Seal(nil, []byte("hello, world")))
	f.Add(k.Seal(nil, pattern(300)))

	f.Fuzz(func(t *testing.T, data []byte) {
		// Arbitrary input: never panics, practically never authenticates.
		dst := make([]byte, 3, 3+len(data))
		if out, err := k.Open(dst, data); err == nil {
			if len(out) != 3+len(data)-Extension {
				t.Fatalf("Open returned %d bytes for %d", len(out), len(data))
			}
		} else if out != nil {
			t.Fatal("Open returned data with an error")
		}
		if _, err := k.Open(data[:0], data); err == nil && len(data) >= Extension {
			t.Logf("authentic input found by fuzzer")
		}

		// The input as plaintext: round trip, and one flipped bit fails.
		sealed := k.Seal(nil, data)
		got, err := k.Open(nil, sealed)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip: %v", err)
		}
		i := 0
		if len(data) > 0 {
			i = int(data[0]) * 8 % (len(sealed) * 8)
		}
		sealed[i/8] ^= 1 << (i % 8)
		if _, err := k.Open(nil, sealed); err != ErrUnauthenticated {
			t.Fatalf("flipped bit %d accepted: %v", i, err)
		}
	})
}

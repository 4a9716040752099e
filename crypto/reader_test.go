package crypto

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestOpenReader: the reader yields what Open yields, for every size and
// read pattern, and refuses what Open refuses.
func TestOpenReader(t *testing.T) {
	k := NewRandomKey()
	c := k.Cipher()
	for _, n := range []int{0, 1, 15, 16, 17, 1000, 70000} {
		plain := make([]byte, n)
		for i := range plain {
			plain[i] = byte(i*7 + n)
		}
		sealed := c.Seal(nil, plain)
		r, err := c.OpenReader(sealed)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(iotest.OneByteReader(r))
		if n > 5000 {
			r, _ = c.OpenReader(sealed)
			got, err = io.ReadAll(r)
		}
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: read back differs (err %v)", n, err)
		}
		if n > 0 {
			r, _ := c.OpenReader(sealed)
			if err := iotest.TestReader(r, plain); err != nil {
				t.Fatalf("%d bytes: %v", n, err)
			}
		}
	}
	sealed := c.Seal(nil, []byte("some data"))
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 1
		if _, err := c.OpenReader(bad); err != ErrUnauthenticated {
			t.Fatalf("bit flip at %d: %v", i, err)
		}
	}
	if _, err := c.OpenReader(sealed[:Extension-1]); !errors.Is(err, ErrCiphertextTooShort) {
		t.Fatalf("short input: %v", err)
	}
	if _, err := NewRandomKey().Cipher().OpenReader(sealed); err != ErrUnauthenticated {
		t.Fatalf("wrong key: %v", err)
	}
}

package s3

import (
	"bytes"
	"io"
	"testing"

	"github.com/arca-backup/arca/backend"
)

// countingReader is a RewindReader that is not a ByteReader and counts rewinds.
type countingReader struct {
	*bytes.Reader
	n       int64
	rewinds int
}

func (c *countingReader) Rewind() error {
	c.rewinds++
	_, err := c.Seek(0, io.SeekStart)
	return err
}
func (c *countingReader) Length() int64 { return c.n }

func TestRewindSeeker(t *testing.T) {
	data := []byte("0123456789abcdef")
	cr := &countingReader{Reader: bytes.NewReader(data), n: int64(len(data))}
	body, err := uploadBody(cr)
	if err != nil {
		t.Fatal(err)
	}
	// The SDK's length probe: current, end, back to current.
	cur, _ := body.Seek(0, io.SeekCurrent)
	end, _ := body.Seek(0, io.SeekEnd)
	back, _ := body.Seek(cur, io.SeekStart)
	if cur != 0 || end != 16 || back != 0 {
		t.Fatalf("seek probe: %d %d %d", cur, end, back)
	}
	got, err := io.ReadAll(body)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("first read: %q, %v", got, err)
	}
	rewindsAfterFirst := cr.rewinds
	// Rewind for a retry, then a seek into the middle.
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(body); !bytes.Equal(got, data) {
		t.Fatalf("read after rewind: %q", got)
	}
	if cr.rewinds != rewindsAfterFirst+1 {
		t.Errorf("rewinds = %d, want %d", cr.rewinds, rewindsAfterFirst+1)
	}
	if _, err := body.Seek(10, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(body); string(got) != "abcdef" {
		t.Errorf("read from offset 10: %q", got)
	}
	if _, err := body.Seek(-3, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(body); string(got) != "def" {
		t.Errorf("read from end-3: %q", got)
	}
	if _, err := body.Seek(-1, io.SeekStart); err == nil {
		t.Errorf("seek to a negative position succeeded")
	}
}

func TestUploadBodyByteReader(t *testing.T) {
	data := []byte("pack contents")
	body, err := uploadBody(backend.NewByteReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := body.(*bytes.Reader); !ok {
		t.Errorf("a ByteReader is wrapped as %T, want a *bytes.Reader over its slice", body)
	}
	if got, _ := io.ReadAll(body); !bytes.Equal(got, data) {
		t.Errorf("read %q", got)
	}
}

package backend

import (
	"bytes"
	"context"
	"io"
	"os"
)

// RewindReader is the data for Save: a reader with a known length that can
// start over from the beginning, so a failed upload can be retried.
type RewindReader interface {
	io.Reader
	// Rewind positions the reader at the start again.
	Rewind() error
	// Length returns the total number of bytes.
	Length() int64
}

// FileSource is a RewindReader over the contents of a file (a pack's
// temporary file). Backends that store local files copy it with CopyTo,
// which lets the kernel move the bytes from file to file
// (copy_file_range) instead of passing them through the process. Wrappers
// pass it on only where that keeps their guarantees (the retry wrapper's
// progress watch does; a rate limit, which must see every byte, does not).
type FileSource interface {
	RewindReader
	// CopyTo copies the rest of the bytes to dst, in pieces, and calls
	// progress (when not nil) after each piece; an error from progress
	// stops the copy and is returned.
	CopyTo(dst *os.File, progress func() error) (int64, error)
}

// LinkableSource is a FileSource whose file a backend on the same file
// system can take as it is, instead of copying its bytes: LinkTo syncs the
// file and gives it the name path (a new hard link; path must not exist).
// It reports false, and no error, when the file cannot be linked there (it
// lives on another file system, it is not linkable, the system cannot do
// it); the backend then copies it. The source stays readable after a link.
type LinkableSource interface {
	FileSource
	LinkTo(path string) (bool, error)
}

// ByteReader is a RewindReader over a byte slice.
type ByteReader struct {
	*bytes.Reader
	buf []byte
}

// NewByteReader returns a RewindReader over buf. buf must not change while
// the reader is in use.
func NewByteReader(buf []byte) *ByteReader {
	return &ByteReader{Reader: bytes.NewReader(buf), buf: buf}
}

// Rewind starts over from the first byte.
func (b *ByteReader) Rewind() error {
	_, err := b.Seek(0, io.SeekStart)
	return err
}

// Length returns len of the underlying slice.
func (b *ByteReader) Length() int64 { return int64(len(b.buf)) }

// Bytes returns the underlying slice; backends may use it to avoid a copy.
func (b *ByteReader) Bytes() []byte { return b.buf }

// LoadAll reads a whole file into memory.
func LoadAll(ctx context.Context, be Backend, h Handle) ([]byte, error) {
	var buf []byte
	err := be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		var err error
		buf, err = readAll(rd)
		return err
	})
	return buf, err
}

// readAll is io.ReadAll, reading a local file into a buffer of its size
// at once instead of growing one step by step (index files are read this
// way at the start of most commands).
func readAll(rd io.Reader) ([]byte, error) {
	f, ok := rd.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return io.ReadAll(rd)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() <= 0 {
		return io.ReadAll(rd)
	}
	// one byte more, so that reaching the end needs no further growth; a
	// file that grew meanwhile is still read to its end
	buf := make([]byte, 0, fi.Size()+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

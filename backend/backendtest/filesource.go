package backendtest

import (
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
)

// FileSource is a backend.FileSource over a temporary file, for tests of
// backends and wrappers that take file sources. It counts what went
// through CopyTo and can pause before each piece it copies.
type FileSource struct {
	f     *os.File
	size  int64
	off   int64
	piece int64
	// Pause is waited before each piece CopyTo copies; StallFirst once
	// more before the first piece of the first CopyTo.
	Pause, StallFirst time.Duration
	stalled           bool
	// Linkable makes LinkTo give the file a new name (a hard link) instead
	// of refusing.
	Linkable bool

	Copies   atomic.Int64 // CopyTo calls
	Copied   atomic.Int64 // bytes copied by CopyTo
	Progress atomic.Int64 // progress calls made by CopyTo
	Links    atomic.Int64 // names given by LinkTo
}

var _ backend.LinkableSource = (*FileSource)(nil)

// NewFileSource writes data to a temporary file of the test and returns a
// source over it whose CopyTo copies piece bytes at a time.
func NewFileSource(t testing.TB, data []byte, piece int) *FileSource {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "source"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return &FileSource{f: f, size: int64(len(data)), piece: int64(max(piece, 1))}
}

// Read reads the next bytes.
func (s *FileSource) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	n, err := s.f.ReadAt(p[:min(int64(len(p)), s.size-s.off)], s.off)
	s.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Rewind starts over.
func (s *FileSource) Rewind() error { s.off = 0; return nil }

// LinkTo gives the file the name path when Linkable is set (and refuses
// otherwise), as a pack's unnamed temporary file on the same file system.
func (s *FileSource) LinkTo(path string) (bool, error) {
	if !s.Linkable {
		return false, nil
	}
	if err := os.Link(s.f.Name(), path); err != nil {
		return false, nil
	}
	s.Links.Add(1)
	return true, nil
}

// File returns the file the source reads.
func (s *FileSource) File() *os.File { return s.f }

// Length returns the size of the data.
func (s *FileSource) Length() int64 { return s.size }

// CopyTo copies the rest to dst, piece by piece, calling progress after
// each piece.
func (s *FileSource) CopyTo(dst *os.File, progress func() error) (int64, error) {
	s.Copies.Add(1)
	if _, err := s.f.Seek(s.off, io.SeekStart); err != nil {
		return 0, err
	}
	var total int64
	for s.off < s.size {
		if !s.stalled {
			s.stalled = true
			time.Sleep(s.StallFirst)
		}
		time.Sleep(s.Pause)
		n, err := io.Copy(dst, &io.LimitedReader{R: s.f, N: min(s.piece, s.size-s.off)})
		s.off += n
		total += n
		s.Copied.Add(n)
		if err != nil {
			return total, err
		}
		if progress != nil {
			s.Progress.Add(1)
			if err := progress(); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

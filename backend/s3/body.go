package s3

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/arca-backup/arca/backend"
)

// uploadBody returns an io.ReadSeeker over rd for PutObject. The SDK needs
// a seekable body over plain HTTP (it hashes the payload before sending
// and rewinds for retries). A reader that exposes its bytes (ByteReader)
// is wrapped without copying, so a pack is never held twice in memory;
// any other RewindReader is adapted by rewindSeeker.
func uploadBody(rd backend.RewindReader) (io.ReadSeeker, error) {
	if br, ok := rd.(interface{ Bytes() []byte }); ok {
		buf := br.Bytes()
		if int64(len(buf)) != rd.Length() {
			return nil, fmt.Errorf("reader holds %d bytes but claims %d", len(buf), rd.Length())
		}
		return bytes.NewReader(buf), nil
	}
	if err := rd.Rewind(); err != nil {
		return nil, fmt.Errorf("rewind: %w", err)
	}
	return &rewindSeeker{rd: rd, size: rd.Length()}, nil
}

// rewindSeeker makes a RewindReader seekable. Seeks only record the wanted
// position; the next Read gets there by rewinding and skipping forward.
// The SDK seeks to learn the length and to go back to the start, which
// costs nothing here; other seeks work but read the skipped bytes.
type rewindSeeker struct {
	rd   backend.RewindReader
	size int64
	pos  int64 // position of rd
	want int64 // position the caller asked for
}

func (s *rewindSeeker) Seek(offset int64, whence int) (int64, error) {
	var target int64
	switch whence {
	case io.SeekStart:
		target = offset
	case io.SeekCurrent:
		target = s.want + offset
	case io.SeekEnd:
		target = s.size + offset
	default:
		return 0, errors.New("seek: invalid whence")
	}
	if target < 0 {
		return 0, errors.New("seek: negative position")
	}
	s.want = target
	return target, nil
}

func (s *rewindSeeker) Read(p []byte) (int, error) {
	if s.want != s.pos {
		if err := s.moveTo(s.want); err != nil {
			return 0, err
		}
	}
	if s.pos >= s.size {
		return 0, io.EOF
	}
	n, err := s.rd.Read(p)
	s.pos += int64(n)
	s.want = s.pos
	return n, err
}

func (s *rewindSeeker) moveTo(target int64) error {
	if target < s.pos {
		if err := s.rd.Rewind(); err != nil {
			return fmt.Errorf("rewind: %w", err)
		}
		s.pos = 0
	}
	if target >= s.size {
		// Reads at or past the end yield EOF; no need to skip the bytes.
		s.pos = target
		return nil
	}
	n, err := io.CopyN(io.Discard, s.rd, target-s.pos)
	s.pos += n
	if err != nil {
		return fmt.Errorf("skip to offset %d: %w", target, err)
	}
	return nil
}

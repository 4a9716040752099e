package model

import (
	"errors"
	"io"

	"github.com/arca-backup/arca/repo/internal/fastjson"
)

// A large tree blob (6.3 MB for a directory of 17,844 files) would
// otherwise be in memory whole while its nodes are made from it, which
// doubles what loading it costs. DecodeTreeStream reads it from a stream
// instead, one node's encoding at a time, with the fast path's rules.

// ErrTreeNotStreamable is DecodeTreeStream's answer to a tree that is not
// in the shape the fast path reads (see decodeTreeFast); DecodeTree,
// given the whole blob, reads those.
var ErrTreeNotStreamable = errors.New("tree: not in the shape that is decoded as a stream")

// DecodeTreeStream decodes the tree blob read from r, which must end with
// the blob. It gives the same tree as DecodeTree, or ErrTreeNotStreamable
// where DecodeTree would need encoding/json; r's read errors are returned
// as they are.
func DecodeTreeStream(r io.Reader) (*Tree, error) {
	s := &treeStream{r: r, buf: make([]byte, 0, 64<<10)}
	t := &Tree{Nodes: []*Node{}}
	for _, c := range []byte(`{"nodes":[`) {
		ok, err := s.consume(c)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ErrTreeNotStreamable
		}
	}
	// the key's letters were taken one by one, with white space allowed
	// between them: only `{"nodes":[` itself is the fast path's
	if s.spaced {
		return nil, ErrTreeNotStreamable
	}
	first := true
	for {
		c, err := s.peek()
		if err != nil {
			return nil, s.shape(err)
		}
		if c == ']' {
			s.pos++
			break
		}
		if !first {
			if c != ',' {
				return nil, ErrTreeNotStreamable
			}
			s.pos++
		}
		first = false
		obj, err := s.object()
		if err != nil {
			return nil, err
		}
		n := &Node{}
		d := treeDecoder{fastjson.New(obj)}
		if !d.node(n) || !d.End() {
			return nil, ErrTreeNotStreamable
		}
		t.Nodes = append(t.Nodes, n)
	}
	if ok, err := s.consume('}'); err != nil || !ok {
		return nil, s.shape(err)
	}
	if _, err := s.peek(); err != io.EOF {
		return nil, s.shape(err)
	}
	return t, nil
}

// treeStream is the unread part of a tree blob: buf[pos:], then r.
type treeStream struct {
	r      io.Reader
	buf    []byte
	pos    int
	eof    bool
	spaced bool // white space was skipped
}

// shape turns the end of the input where more was expected into
// ErrTreeNotStreamable and leaves read errors as they are.
func (s *treeStream) shape(err error) error {
	if err == nil || err == io.EOF {
		return ErrTreeNotStreamable
	}
	return err
}

// more reads more of the blob into buf, moving the unread part to its
// start first, and growing it when it is full. It returns io.EOF at the
// end of the blob.
func (s *treeStream) more() error {
	if s.eof {
		return io.EOF
	}
	if s.pos > 0 {
		s.buf = s.buf[:copy(s.buf, s.buf[s.pos:])]
		s.pos = 0
	}
	if len(s.buf) == cap(s.buf) {
		s.buf = append(s.buf, make([]byte, cap(s.buf))...)[:len(s.buf)]
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	if err == io.EOF {
		s.eof = true
		if n == 0 {
			return io.EOF
		}
		return nil
	}
	return err
}

// peek skips white space and returns the next byte without taking it.
func (s *treeStream) peek() (byte, error) {
	for {
		for s.pos < len(s.buf) {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\r', '\n':
				s.pos++
				s.spaced = true
			default:
				return c, nil
			}
		}
		if err := s.more(); err != nil {
			return 0, err
		}
	}
}

// consume skips white space and takes c if it comes next.
func (s *treeStream) consume(c byte) (bool, error) {
	next, err := s.peek()
	if err == io.EOF {
		return false, nil
	}
	if err != nil || next != c {
		return false, err
	}
	s.pos++
	return true, nil
}

// object takes the JSON object that comes next and returns its bytes,
// valid until the next call. It finds the object's end by its brackets,
// which is exact for strings without escapes: one with a backslash is
// not the fast path's, nor is anything but an object.
func (s *treeStream) object() ([]byte, error) {
	c, err := s.peek()
	if err != nil {
		return nil, s.shape(err)
	}
	if c != '{' {
		return nil, ErrTreeNotStreamable
	}
	depth, inString := 0, false
	for i := s.pos; ; i++ {
		for i == len(s.buf) {
			start := s.pos
			if err := s.more(); err != nil {
				return nil, s.shape(err)
			}
			i -= start - s.pos // the unread part moved to buf's start
		}
		switch c := s.buf[i]; {
		case inString:
			switch c {
			case '"':
				inString = false
			case '\\':
				return nil, ErrTreeNotStreamable
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				obj := s.buf[s.pos : i+1]
				s.pos = i + 1
				return obj, nil
			}
		}
	}
}

package chunker

import "io"

// Chunk is one chunk returned by Chunker.Next.
type Chunk struct {
	Start  uint   // offset of the chunk in the stream
	Length uint   // length of the chunk
	Cut    uint64 // fingerprint at the cut, as restic reports it
	Data   []byte // the chunk's bytes: buf[:Length] of the buffer given to Next
}

// readSize is how much Next asks the reader for at a time.
const readSize = 1 << 20

// Chunker splits a stream into chunks, like restic's chunker.Chunker.
type Chunker struct {
	tab   Table
	err   error // error from the polynomial, reported by Next
	rd    io.Reader
	pos   uint   // stream offset of the next chunk
	left  []byte // bytes read past the last chunk: spare[lo:hi]
	spare []byte
	eof   bool
	done  bool
}

// New returns a Chunker that reads from rd and cuts with polynomial pol.
func New(rd io.Reader, pol Pol) *Chunker {
	c := new(Chunker)
	c.Reset(rd, pol)
	return c
}

// Reset makes c read a new stream from rd with polynomial pol, keeping its
// buffers (and its tables when pol is unchanged).
func (c *Chunker) Reset(rd io.Reader, pol Pol) {
	c.resetLimits(rd, pol, defaultLimits)
}

func (c *Chunker) resetLimits(rd io.Reader, pol Pol, lim limits) {
	if c.tab.pol != pol || c.tab.pol == 0 {
		c.err = c.tab.init(pol)
		if c.err != nil {
			c.tab.pol = 0
		}
	}
	c.tab.lim = lim
	c.rd, c.pos, c.left, c.eof, c.done = rd, 0, nil, false, false
}

// Next returns the next chunk of the stream. Its Data is buf[:Length],
// where buf is grown (reallocated) if its capacity is too small; pass a
// buffer of capacity MaxSize to avoid that. After the last chunk Next
// returns io.EOF. A read error other than io.EOF is returned as is and the
// chunk being assembled is lost.
func (c *Chunker) Next(buf []byte) (Chunk, error) {
	if c.err != nil {
		return Chunk{}, c.err
	}
	if c.done {
		return Chunk{}, io.EOF
	}
	t := &c.tab
	lim := &t.lim
	data := append(buf[:0], c.left...)
	c.left = nil
	from := 0 // positions below from are known not to be boundaries
	for {
		n, ok := t.cutFrom(data, from, c.eof)
		if ok {
			return c.emit(data, n), nil
		}
		if c.eof {
			c.done = true
			return Chunk{}, io.EOF
		}
		if len(data) >= lim.min {
			from = len(data) + 1
		}
		want := lim.max - len(data)
		if want > readSize {
			want = readSize
		}
		if cap(data)-len(data) < want {
			grown := make([]byte, len(data), len(data)+max(want, len(data)))
			copy(grown, data)
			data = grown
		}
		k, err := io.ReadFull(c.rd, data[len(data):len(data)+want])
		data = data[:len(data)+k]
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			c.eof = true
		default:
			return Chunk{}, err
		}
	}
}

// emit returns data[:n] as the next chunk and keeps data[n:] for later.
func (c *Chunker) emit(data []byte, n int) Chunk {
	if rest := data[n:]; len(rest) > 0 {
		if cap(c.spare) < len(rest) {
			c.spare = make([]byte, 0, max(len(rest), readSize))
		}
		c.left = append(c.spare[:0], rest...)
	} else if c.eof {
		c.done = true
	}
	ch := Chunk{Start: c.pos, Length: uint(n), Cut: c.tab.cutValue(data[:n]), Data: data[:n]}
	c.pos += uint(n)
	return ch
}

// cutValue is the fingerprint restic's chunker holds when it ends chunk d:
// the fingerprint of the last 64 bytes once the chunk is MinSize long. A
// shorter (final) chunk starts with a window that holds a single byte 1 and
// hashes only the bytes from MinSize-64 on.
func (t *Table) cutValue(d []byte) uint64 {
	if len(d) >= t.lim.min {
		return t.windowHash(d[len(d)-windowSize:])
	}
	h := uint64(1)
	if skip := t.lim.min - windowSize; len(d) > skip {
		for _, b := range d[skip:] {
			h = t.push(h, b)
		}
	}
	return h
}

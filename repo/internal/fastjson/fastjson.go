// Package fastjson reads the plain JSON that restic and arca write for
// index files and trees, without reflection. It is a scanner for decoders
// that accept only input they decode exactly as encoding/json would and
// give up on anything else (escapes in strings, null where a value is
// expected, numbers that are not plain unsigned integers, unknown keys),
// leaving those inputs, and the error messages, to encoding/json.
package fastjson

import "unicode/utf8"

// Decoder reads JSON values from a byte slice. Each method reports whether
// the value it expects came next; after false the position is undefined
// and the caller gives up.
type Decoder struct {
	b []byte
	i int
}

// New returns a Decoder for b.
func New(b []byte) *Decoder { return &Decoder{b: b} }

func (d *Decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
		default:
			return
		}
	}
}

// Consume skips white space and then c, if it is next.
func (d *Decoder) Consume(c byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// Null consumes the literal null, if it is next.
func (d *Decoder) Null() bool {
	d.space()
	if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// End reports whether only white space is left.
func (d *Decoder) End() bool {
	d.space()
	return d.i == len(d.b)
}

// ASCIIString reads a string of printable ASCII without escapes and
// returns its bytes (a slice of the input).
func (d *Decoder) ASCIIString() ([]byte, bool) {
	return d.str(false)
}

// String reads a string without escapes or control characters, whose
// bytes are valid UTF-8 (encoding/json would replace invalid bytes).
func (d *Decoder) String() ([]byte, bool) {
	return d.str(true)
}

func (d *Decoder) str(utf bool) ([]byte, bool) {
	if !d.Consume('"') {
		return nil, false
	}
	start := d.i
	ascii := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			if !utf {
				return nil, false
			}
			ascii = false
		}
		d.i++
	}
	return nil, false
}

// Key reads an object key (plain ASCII) and its colon.
func (d *Decoder) Key() ([]byte, bool) {
	s, ok := d.ASCIIString()
	if !ok || !d.Consume(':') {
		return nil, false
	}
	return s, true
}

// Hex reads a string of exactly 2*len(dst) lowercase hex digits into dst.
func (d *Decoder) Hex(dst []byte) bool {
	if !d.Consume('"') {
		return false
	}
	n := 2 * len(dst)
	if len(d.b)-d.i <= n || d.b[d.i+n] != '"' {
		return false
	}
	s := d.b[d.i : d.i+n]
	// a quote, backslash, control or non-ASCII byte among the digits is
	// not a hex digit either, so this accepts what a string scan would
	var bad byte
	for i := range dst {
		hi, lo := hexDigits[s[2*i]], hexDigits[s[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo
	}
	if bad&0xf0 != 0 {
		return false
	}
	d.i += n + 1
	return true
}

// hexDigits maps lowercase hex digits to their value and every other byte
// to 0xff.
var hexDigits = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
	}
	return t
}()

// Uint reads a plain unsigned integer (no sign, fraction, exponent or
// leading zero) no larger than max.
func (d *Decoder) Uint(max uint64) (uint64, bool) {
	d.space()
	start := d.i
	var n uint64
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		digit := uint64(d.b[d.i] - '0')
		if n > (max-digit)/10 {
			return 0, false
		}
		n = n*10 + digit
		d.i++
	}
	l := d.i - start
	if l == 0 || (l > 1 && d.b[start] == '0') {
		return 0, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	return n, true
}

// Array reads a JSON array, calling elem to read each element.
func (d *Decoder) Array(elem func() bool) bool {
	if !d.Consume('[') {
		return false
	}
	if d.Consume(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if !d.Consume(',') {
			return d.Consume(']')
		}
	}
}

// Object reads a JSON object, calling field with each key; field reads
// the value.
func (d *Decoder) Object(field func(key []byte) bool) bool {
	if !d.Consume('{') {
		return false
	}
	if d.Consume('}') {
		return true
	}
	for {
		key, ok := d.Key()
		if !ok || !field(key) {
			return false
		}
		if !d.Consume(',') {
			return d.Consume('}')
		}
	}
}

package chunker

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"strconv"
)

// Pol is a polynomial over GF(2); bit i is the coefficient of x^i.
type Pol uint64

// Deg returns the degree of p, or -1 for the zero polynomial.
func (p Pol) Deg() int { return bits.Len64(uint64(p)) - 1 }

// String formats p as a hexadecimal number with a 0x prefix.
func (p Pol) String() string { return "0x" + strconv.FormatUint(uint64(p), 16) }

// MarshalJSON encodes p as a JSON string of lowercase hex digits without a
// prefix, as restic stores "chunker_polynomial" in the repository config.
func (p Pol) MarshalJSON() ([]byte, error) {
	b := append(make([]byte, 0, 20), '"')
	b = strconv.AppendUint(b, uint64(p), 16)
	return append(b, '"'), nil
}

// UnmarshalJSON decodes a polynomial written by MarshalJSON (or by restic).
func (p *Pol) UnmarshalJSON(data []byte) error {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return errors.New("chunker: polynomial must be a JSON string")
	}
	v, err := strconv.ParseUint(string(data[1:len(data)-1]), 16, 64)
	if err != nil {
		return err
	}
	*p = Pol(v)
	return nil
}

// mod returns x mod m for any non-zero m.
func polMod(x, m Pol) Pol {
	dm := m.Deg()
	for {
		d := x.Deg()
		if d < dm {
			return x
		}
		x ^= m << uint(d-dm)
	}
}

// mulMod returns a*b mod m; a and b must already be reduced mod m and m
// must be non-zero.
func mulMod(a, b, m Pol) Pol {
	dm := m.Deg()
	top := Pol(1) << uint(dm)
	var r Pol
	for i := b.Deg(); i >= 0; i-- {
		// r = r*x mod m; deg r < dm so r<<1 cannot overflow for dm <= 63.
		r <<= 1
		if r&top != 0 {
			r ^= m
		}
		if b&(1<<uint(i)) != 0 {
			r ^= a
		}
	}
	return r
}

func polGCD(a, b Pol) Pol {
	for b != 0 {
		a, b = b, polMod(a, b)
	}
	return a
}

// Irreducible reports whether p has no non-trivial factor over GF(2), using
// Ben-Or's test: p of degree n is irreducible iff gcd(p, x^(2^i) - x) = 1
// for every 1 <= i <= n/2. Like restic, polynomials of degree below 2 (and
// zero) are reported as irreducible.
func (p Pol) Irreducible() bool {
	n := p.Deg()
	if n < 2 {
		return true
	}
	sq := Pol(2) // x^(2^i) mod p, starting at x (deg p >= 2, so reduced)
	for i := 1; i <= n/2; i++ {
		sq = mulMod(sq, sq, p)
		if polGCD(p, sq^2) != 1 {
			return false
		}
	}
	return true
}

// maxPolTries bounds the search in RandomPolynomial, as in restic.
const maxPolTries = 1000000

// RandomPolynomial returns a random irreducible polynomial of degree 53 read
// from rnd (crypto/rand.Reader when rnd is nil). It draws candidates the way
// restic does (8 little-endian bytes, keep bits 0..53, set bits 0 and 53)
// and returns the first irreducible one, so the same byte stream yields the
// same polynomial as restic's DerivePolynomial.
func RandomPolynomial(rnd io.Reader) (Pol, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var b [8]byte
	for i := 0; i < maxPolTries; i++ {
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return 0, err
		}
		p := Pol(binary.LittleEndian.Uint64(b[:]))
		p &= 1<<54 - 1
		p |= 1<<53 | 1
		if p.Irreducible() {
			return p, nil
		}
	}
	return 0, errors.New("chunker: no irreducible polynomial found")
}

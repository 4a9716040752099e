package chunker

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"testing"

	rc "github.com/restic/chunker"
)

func TestRandomPolynomial(t *testing.T) {
	for i := 0; i < 20; i++ {
		p, err := RandomPolynomial(nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Deg() != 53 || !p.Irreducible() || !rc.Pol(p).Irreducible() {
			t.Fatalf("%v: degree %d, irreducible %v", p, p.Deg(), p.Irreducible())
		}
	}
	// Same byte stream, same polynomial as restic.
	for seed := int64(0); seed < 5; seed++ {
		src := randBytes(seed, 1<<16)
		a, err1 := RandomPolynomial(bytes.NewReader(src))
		b, err2 := rc.DerivePolynomial(bytes.NewReader(src))
		if err1 != nil || err2 != nil || uint64(a) != uint64(b) {
			t.Fatalf("seed %d: %v %v, restic %v %v", seed, a, err1, b, err2)
		}
	}
	if _, err := RandomPolynomial(bytes.NewReader(make([]byte, 5))); err == nil {
		t.Fatal("short source: no error")
	}
}

// bruteIrreducible tests by trial division by every polynomial of degree
// 1..deg/2.
func bruteIrreducible(p Pol) bool {
	n := p.Deg()
	for d := Pol(2); d.Deg() <= n/2; d++ {
		if polMod(p, d) == 0 {
			return false
		}
	}
	return true
}

func TestIrreducible(t *testing.T) {
	count := 0
	for p := Pol(4); p < 1<<13; p++ {
		got, want := p.Irreducible(), bruteIrreducible(p)
		if got != want {
			t.Fatalf("%v: Irreducible %v, want %v", p, got, want)
		}
		if got && p.Deg() == 12 {
			count++
		}
	}
	// There are 335 irreducible polynomials of degree 12 over GF(2).
	if count != 335 {
		t.Fatalf("%d irreducible of degree 12, want 335", count)
	}
	rnd := rand.New(rand.NewSource(1))
	for i := 0; i < 300; i++ {
		p := Pol(rnd.Uint64() >> uint(rnd.Intn(60)+1))
		if i < 4 {
			p = Pol(i)
		}
		if got, want := p.Irreducible(), rc.Pol(p).Irreducible(); got != want {
			t.Fatalf("%v: Irreducible %v, restic %v", p, got, want)
		}
	}
	if !testPol.Irreducible() {
		t.Fatal("restic's test polynomial reported reducible")
	}
}

func TestPolJSON(t *testing.T) {
	for _, p := range append(testPols(t, 4), 0, 1, 1<<63|5) {
		got, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(rc.Pol(p))
		if !bytes.Equal(got, want) {
			t.Fatalf("%v: JSON %s, restic %s", p, got, want)
		}
		var q Pol
		if err := json.Unmarshal(want, &q); err != nil || q != p {
			t.Fatalf("%s: decoded %v, %v", want, q, err)
		}
		var cfg struct {
			P Pol `json:"chunker_polynomial"`
		}
		if err := json.Unmarshal([]byte(`{"chunker_polynomial":`+string(want)+`}`), &cfg); err != nil || cfg.P != p {
			t.Fatalf("in struct: %v %v", cfg.P, err)
		}
	}
	if got := testPol.String(); got != "0x3da3358b4dc173" {
		t.Fatalf("String = %q", got)
	}
	var q Pol
	for _, bad := range []string{`123`, `"xyz"`, `""`, `"0x12"`} {
		if err := q.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("UnmarshalJSON(%s) succeeded", bad)
		}
	}
}

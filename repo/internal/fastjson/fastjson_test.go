package fastjson

import (
	"math"
	"testing"
)

func TestUint(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  uint64
		want uint64
		ok   bool
	}{
		{"0", math.MaxUint32, 0, true},
		{" 4294967295", math.MaxUint32, math.MaxUint32, true},
		{"4294967296", math.MaxUint32, 0, false},
		{"18446744073709551615", math.MaxUint64, math.MaxUint64, true},
		{"18446744073709551616", math.MaxUint64, 0, false},
		{"01", math.MaxUint64, 0, false},
		{"-1", math.MaxUint64, 0, false},
		{"1.5", math.MaxUint64, 0, false},
		{"1e3", math.MaxUint64, 0, false},
		{"", math.MaxUint64, 0, false},
	} {
		got, ok := New([]byte(c.in)).Uint(c.max)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("Uint(%q, %d) = %d, %v; want %d, %v", c.in, c.max, got, ok, c.want, c.ok)
		}
	}
}

func TestStrings(t *testing.T) {
	for _, c := range []struct {
		in         string
		ascii, utf bool
	}{
		{`"plain"`, true, true},
		{`"ümlaut"`, false, true},
		{"\"\xff\"", false, false},
		{`"esc\"aped"`, false, false},
		{"\"tab\t\"", false, false},
		{`"unterminated`, false, false},
		{`plain`, false, false},
	} {
		if _, ok := New([]byte(c.in)).ASCIIString(); ok != c.ascii {
			t.Errorf("ASCIIString(%q) ok=%v", c.in, ok)
		}
		if _, ok := New([]byte(c.in)).String(); ok != c.utf {
			t.Errorf("String(%q) ok=%v", c.in, ok)
		}
	}
}

func TestObjectAndArray(t *testing.T) {
	d := New([]byte(` { "a" : [ 1 , 2 ] , "b":[] } `))
	var keys []string
	var nums []uint64
	ok := d.Object(func(key []byte) bool {
		keys = append(keys, string(key))
		return d.Array(func() bool {
			n, ok := d.Uint(math.MaxUint64)
			nums = append(nums, n)
			return ok
		})
	})
	if !ok || !d.End() || len(keys) != 2 || len(nums) != 2 || nums[1] != 2 {
		t.Fatalf("ok=%v keys=%v nums=%v", ok, keys, nums)
	}
	for _, in := range []string{`{"a":[1,]}`, `{"a":[1],}`, `{"a":[1]`, `{"a" [1]}`} {
		d := New([]byte(in))
		if d.Object(func([]byte) bool { return d.Array(func() bool { _, ok := d.Uint(9); return ok }) }) {
			t.Errorf("accepted %s", in)
		}
	}
}

// TestHex: exactly 2*len(dst) lowercase hex digits in quotes, and the
// decoder continues right after the closing quote; anything else fails,
// as the string scan and digit check it replaced did. Every byte value in
// every digit position is tried against that reference.
func TestHex(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []byte
		ok   bool
	}{
		{` "00ff7a"`, []byte{0x00, 0xff, 0x7a}, true},
		{`"0123456789abcdef0123"`, nil, false}, // too long for 3 bytes
		{`"00ff"`, nil, false},
		{`"00FF7a"`, nil, false},
		{`"00ff7a`, nil, false},
		{`00ff7a"`, nil, false},
		{`"00f"7a"`, nil, false},
		{`"00ff7g"`, nil, false},
	} {
		dst := make([]byte, 3)
		d := New([]byte(c.in + `,`))
		ok := d.Hex(dst)
		if ok != c.ok || ok && string(dst) != string(c.want) {
			t.Errorf("Hex(%q) = %x, %v; want %x, %v", c.in, dst, ok, c.want, c.ok)
		}
		if ok && !d.Consume(',') {
			t.Errorf("Hex(%q) did not stop after the closing quote", c.in)
		}
	}
	reference := func(s []byte) bool {
		if len(s) != 4 {
			return false
		}
		for _, c := range s {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	for pos := range 4 {
		for b := range 256 {
			in := []byte(`"9f3c"`)
			in[1+pos] = byte(b)
			dst := make([]byte, 2)
			if got, want := New(in).Hex(dst), reference(in[1:5]); got != want {
				t.Errorf("Hex(%q) = %v, want %v", in, got, want)
			}
		}
	}
}

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

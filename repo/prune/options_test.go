package prune

import (
	"math"
	"testing"

	"github.com/arca-backup/arca/repo/model"
)

func TestParseMaxUnused(t *testing.T) {
	const used = 1000
	for _, tc := range []struct {
		in   string
		want uint64
		err  string
	}{
		{in: "5%", want: 52}, // 5/95 of 1000, rounded down
		{in: " 0% ", want: 0},
		{in: "50%", want: 1000},
		{in: "unlimited", want: math.MaxUint64},
		{in: "0", want: 0},
		{in: "100k", want: 100 << 10},
		{in: "2M", want: 2 << 20},
		{in: "", err: `invalid value for --max-unused: ""`},
		{in: "100%", err: "percentage for --max-unused must be below 100%"},
		{in: "-1%", err: "percentage for --max-unused must be positive"},
		{in: "x%", err: `invalid percentage "x%" passed for --max-unused: strconv.ParseFloat: parsing "x": invalid syntax`},
		{in: "abc", err: `invalid number of bytes "abc" for --max-unused: strconv.ParseInt: parsing "abc": invalid syntax`},
	} {
		f, err := ParseMaxUnused(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseMaxUnused(%q): error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseMaxUnused(%q): %v", tc.in, err)
			continue
		}
		if got := f(used); got != tc.want {
			t.Errorf("ParseMaxUnused(%q)(%d) = %d, want %d", tc.in, used, got, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "12": 12, "12b": 12, "3k": 3 << 10, "3K": 3 << 10, "5m": 5 << 20, "1g": 1 << 30, "2T": 2 << 40} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "k", "1.5M", "-1", "9999999999T"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): no error", in)
		}
	}
}

func TestIDList(t *testing.T) {
	a, _ := model.ParseID("ff00000000000000000000000000000000000000000000000000000000000000")
	b, _ := model.ParseID("0a12345600000000000000000000000000000000000000000000000000000000")
	if got, want := IDList(model.IDSet{a: {}, b: {}}), "{0a123456 ff000000}"; got != want {
		t.Errorf("IDList = %q, want %q", got, want)
	}
	if got := IDList(nil); got != "{}" {
		t.Errorf("IDList(nil) = %q", got)
	}
}

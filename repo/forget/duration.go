package forget

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a calendar span as restic's --keep-within flags take it:
// years, months, days and hours ("1y2m3d4h"). Months and years are
// calendar units, applied with time.AddDate.
type Duration struct {
	Years, Months, Days, Hours int
}

// ParseDuration parses restic's duration syntax: numbers (optionally
// negative) each followed by a unit y, m, d or h, in any order; a later
// number for the same unit replaces an earlier one. An empty string is the
// zero duration.
func ParseDuration(s string) (Duration, error) {
	var d Duration
	s = strings.TrimSpace(s)
	for s != "" {
		neg := false
		if s[0] == '-' {
			neg = true
			s = s[1:]
		}
		digits := 0
		for digits < len(s) && s[digits] >= '0' && s[digits] <= '9' {
			digits++
		}
		if digits == 0 {
			return Duration{}, errors.New("no number found")
		}
		n, err := strconv.Atoi(s[:digits])
		if err != nil {
			return Duration{}, fmt.Errorf("invalid number %q: %w", s[:digits], err)
		}
		if neg {
			n = -n
		}
		s = s[digits:]
		if s == "" {
			return Duration{}, fmt.Errorf("no unit found after number %d", n)
		}
		switch s[0] {
		case 'y':
			d.Years = n
		case 'm':
			d.Months = n
		case 'd':
			d.Days = n
		case 'h':
			d.Hours = n
		default:
			return Duration{}, fmt.Errorf("invalid unit %q found after number %d", s[0], n)
		}
		s = s[1:]
	}
	return d, nil
}

// String formats d as restic does: the non-zero units in the order y, m,
// d, h ("" for the zero duration).
func (d Duration) String() string {
	var b strings.Builder
	for _, u := range []struct {
		n    int
		unit string
	}{{d.Years, "y"}, {d.Months, "m"}, {d.Days, "d"}, {d.Hours, "h"}} {
		if u.n != 0 {
			fmt.Fprintf(&b, "%d%s", u.n, u.unit)
		}
	}
	return b.String()
}

// Zero reports whether every unit is zero.
func (d Duration) Zero() bool { return d == Duration{} }

// Negative reports whether any unit is negative.
func (d Duration) Negative() bool {
	return d.Years < 0 || d.Months < 0 || d.Days < 0 || d.Hours < 0
}

// Before returns the instant d before t: calendar years, months and days
// first, then hours.
func (d Duration) Before(t time.Time) time.Time {
	return t.AddDate(-d.Years, -d.Months, -d.Days).Add(-time.Duration(d.Hours) * time.Hour)
}

// Package filter matches paths against restic's include/exclude patterns.
//
// A pattern is a slash-separated list of components. Each component is
// matched with filepath.Match rules (*, ?, [...], \ escapes); "**" matches
// any number of components (also none). A pattern starting with "/" is
// anchored at the root, any other pattern may match at any depth, ending at
// the path's last component. In a list, a pattern prefixed with "!" takes
// back a match of the patterns before it. Backup, restore and rewrite use
// these rules through Patterns (exclude or include) and the match functions.
package filter

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ErrBadString is returned when an empty path is matched.
var ErrBadString = errors.New("filter.Match: string is empty")

// part is one component of a pattern. "" stands for "**".
type part struct {
	text   string
	simple bool // no wildcard or escape: compare as a plain string
}

// Pattern is a parsed pattern.
type Pattern struct {
	original string
	parts    []part
	negated  bool
}

// String returns the pattern as it was given.
func (p Pattern) String() string { return p.original }

// Negated reports whether the pattern started with "!".
func (p Pattern) Negated() bool { return p.negated }

// Parse parses one non-empty pattern.
func Parse(s string) Pattern {
	p := Pattern{original: s}
	if strings.HasPrefix(s, "!") {
		p.negated = true
		s = s[1:]
	}
	comps := split(filepath.Clean(s))
	p.parts = make([]part, len(comps))
	for i, c := range comps {
		simple := !strings.ContainsAny(c, `\[]*?`)
		if c == "**" {
			c = ""
		}
		p.parts[i] = part{text: c, simple: simple}
	}
	return p
}

// ParsePatterns parses a list of patterns; empty ones are skipped.
func ParsePatterns(list []string) []Pattern {
	out := make([]Pattern, 0, len(list))
	for _, s := range list {
		if s != "" {
			out = append(out, Parse(s))
		}
	}
	return out
}

// split cuts a cleaned path into components; an absolute path's first
// component is "/".
func split(p string) []string {
	comps := strings.Split(filepath.ToSlash(p), "/")
	if comps[0] == "" {
		comps[0] = "/"
	}
	return comps
}

func prepare(str string) ([]string, error) {
	if str == "" {
		return nil, ErrBadString
	}
	return split(str), nil
}

// Match reports whether str matches pattern (which must not be negated).
// The empty pattern matches everything; an empty str is an error, as is a
// malformed pattern.
func Match(pattern, str string) (bool, error) {
	if pattern == "" {
		return true, nil
	}
	comps, err := prepare(str)
	if err != nil {
		return false, err
	}
	return Parse(pattern).match(comps)
}

// ChildMatch reports whether some path below str could match pattern.
func ChildMatch(pattern, str string) (bool, error) {
	if pattern == "" {
		return true, nil
	}
	comps, err := prepare(str)
	if err != nil {
		return false, err
	}
	return Parse(pattern).childMatch(comps)
}

func (p Pattern) doubleStar() (int, bool) {
	for i, pt := range p.parts {
		if pt.text == "" {
			return i, true
		}
	}
	return 0, false
}

// childMatch: a relative pattern may always match deeper down; an absolute
// one only when str agrees with the pattern's prefix (up to a "**").
func (p Pattern) childMatch(comps []string) (bool, error) {
	if p.parts[0].text != "/" {
		return true, nil
	}
	if pos, ok := p.doubleStar(); ok && len(comps) >= pos {
		comps = comps[:pos]
	}
	n := min(len(comps), len(p.parts))
	return Pattern{original: p.original, parts: p.parts[:n], negated: p.negated}.match(comps)
}

func (p Pattern) match(comps []string) (bool, error) {
	if pos, ok := p.doubleStar(); ok {
		// try "**" as zero, one, two, … single-component wildcards
		expanded := make([]part, 0, len(comps)+len(p.parts))
		for n := 0; n <= len(comps)-len(p.parts)+1; n++ {
			expanded = append(expanded[:0], p.parts[:pos]...)
			for range n {
				expanded = append(expanded, part{text: "*"})
			}
			expanded = append(expanded, p.parts[pos+1:]...)
			ok, err := Pattern{original: p.original, parts: expanded}.match(comps)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	if len(p.parts) == 0 {
		return len(comps) == 0, nil
	}
	if len(p.parts) > len(comps) {
		return false, nil
	}
	lo, hi := 0, len(comps)-len(p.parts)
	if p.parts[0].text == "/" {
		hi = 0
	} else if comps[0] == "/" {
		lo = 1 // a relative pattern does not match the root marker
	}
	for off := hi; off >= lo; off-- {
		ok := true
		for i := len(p.parts) - 1; i >= 0 && ok; i-- {
			pt := p.parts[i]
			if pt.simple {
				ok = pt.text == comps[off+i]
				continue
			}
			m, err := filepath.Match(pt.text, comps[off+i])
			if err != nil {
				return false, fmt.Errorf("match %q: %w", p.original, err)
			}
			ok = m
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// List reports whether str matches the list (see ListWithChild).
func List(patterns []Pattern, str string) (bool, error) {
	m, _, err := list(patterns, false, str)
	return m, err
}

// ListWithChild reports whether str matches the list and whether a path
// below str might. Patterns are applied in order; a negated pattern that
// matches takes back the matches before it.
func ListWithChild(patterns []Pattern, str string) (matched, childMayMatch bool, err error) {
	return list(patterns, true, str)
}

func list(patterns []Pattern, withChild bool, str string) (matched, childMayMatch bool, err error) {
	if len(patterns) == 0 {
		return false, false, nil
	}
	comps, err := prepare(str)
	if err != nil {
		return false, false, err
	}
	anyNegated := false
	for _, p := range patterns {
		anyNegated = anyNegated || p.negated
	}
	for _, p := range patterns {
		m, err := p.match(comps)
		if err != nil {
			return false, false, err
		}
		c := true
		if withChild {
			if c, err = p.childMatch(comps); err != nil {
				return false, false, err
			}
		}
		if p.negated {
			matched = matched && !m
			childMayMatch = childMayMatch && !m
			continue
		}
		matched = matched || m
		childMayMatch = childMayMatch || c
		if matched && childMayMatch && !anyNegated {
			break
		}
	}
	return matched, childMayMatch, nil
}

// InvalidPatternError lists patterns that cannot be parsed.
type InvalidPatternError struct {
	InvalidPatterns []string
}

func (e *InvalidPatternError) Error() string {
	return "invalid pattern(s) provided:\n" + strings.Join(e.InvalidPatterns, "\n")
}

// ValidatePatterns returns an *InvalidPatternError naming every pattern
// with a malformed component.
func ValidatePatterns(list []string) error {
	var bad []string
	for _, p := range ParsePatterns(list) {
		for _, pt := range p.parts {
			if _, err := filepath.Match(pt.text, pt.text); err != nil {
				bad = append(bad, p.original)
				break
			}
		}
	}
	if len(bad) > 0 {
		return &InvalidPatternError{InvalidPatterns: bad}
	}
	return nil
}

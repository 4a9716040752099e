package filter

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"unicode/utf16"
)

// RejectFunc reports whether a path is excluded.
type RejectFunc func(path string) bool

// IncludeFunc reports whether a path is included and whether a path below
// it might be.
type IncludeFunc func(path string) (matched, childMayMatch bool)

// WarnFunc receives messages about paths that could not be matched.
type WarnFunc func(format string, args ...any)

// RejectByPattern excludes paths matching any of patterns.
func RejectByPattern(patterns []string, warn WarnFunc) RejectFunc {
	parsed := ParsePatterns(patterns)
	return func(path string) bool {
		m, err := List(parsed, path)
		if err != nil && warn != nil {
			warn("error for exclude pattern: %v", err)
		}
		return m
	}
}

// RejectByInsensitivePattern is RejectByPattern ignoring letter case.
func RejectByInsensitivePattern(patterns []string, warn WarnFunc) RejectFunc {
	f := RejectByPattern(lowerAll(patterns), warn)
	return func(path string) bool { return f(strings.ToLower(path)) }
}

// IncludeByPattern includes paths matching any of patterns.
func IncludeByPattern(patterns []string, warn WarnFunc) IncludeFunc {
	parsed := ParsePatterns(patterns)
	return func(path string) (bool, bool) {
		m, c, err := ListWithChild(parsed, path)
		if err != nil && warn != nil {
			warn("error for include pattern: %v", err)
		}
		return m, c
	}
}

// IncludeByInsensitivePattern is IncludeByPattern ignoring letter case.
func IncludeByInsensitivePattern(patterns []string, warn WarnFunc) IncludeFunc {
	f := IncludeByPattern(lowerAll(patterns), warn)
	return func(path string) (bool, bool) { return f(strings.ToLower(path)) }
}

func lowerAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.ToLower(s)
	}
	return out
}

// Patterns are the patterns of restic's --exclude/--include family of
// flags: given directly, case-insensitive (--iexclude), and read from
// files (--exclude-file, --iexclude-file).
type Patterns struct {
	Patterns         []string
	Insensitive      []string
	Files            []string
	InsensitiveFiles []string
}

// Empty reports whether no pattern or file was given.
func (p Patterns) Empty() bool {
	return len(p.Patterns) == 0 && len(p.Insensitive) == 0 && len(p.Files) == 0 && len(p.InsensitiveFiles) == 0
}

// collect reads the pattern files and validates everything. flag is the
// base flag name ("exclude" or "include") used in error messages.
func (p Patterns) collect(flag string) (sensitive, insensitive []string, err error) {
	sensitive = append([]string(nil), p.Patterns...)
	insensitive = append([]string(nil), p.Insensitive...)
	if len(p.Files) > 0 {
		list, err := ReadPatternFiles(p.Files)
		if err != nil {
			return nil, nil, err
		}
		if err := ValidatePatterns(list); err != nil {
			return nil, nil, fmt.Errorf("--%s-file: %w", flag, err)
		}
		sensitive = append(sensitive, list...)
	}
	if len(p.InsensitiveFiles) > 0 {
		list, err := ReadPatternFiles(p.InsensitiveFiles)
		if err != nil {
			return nil, nil, err
		}
		if err := ValidatePatterns(list); err != nil {
			return nil, nil, fmt.Errorf("--i%s-file: %w", flag, err)
		}
		insensitive = append(insensitive, list...)
	}
	if len(insensitive) > 0 {
		if err := ValidatePatterns(insensitive); err != nil {
			return nil, nil, fmt.Errorf("--i%s: %w", flag, err)
		}
	}
	if len(sensitive) > 0 {
		if err := ValidatePatterns(sensitive); err != nil {
			return nil, nil, fmt.Errorf("--%s: %w", flag, err)
		}
	}
	return sensitive, insensitive, nil
}

// RejectFuncs returns the exclude functions for the patterns (none when
// there are none). Errors name the flag as restic does ("--exclude: …").
func (p Patterns) RejectFuncs(warn WarnFunc) ([]RejectFunc, error) {
	sens, insens, err := p.collect("exclude")
	if err != nil {
		return nil, err
	}
	var fns []RejectFunc
	if len(insens) > 0 {
		fns = append(fns, RejectByInsensitivePattern(insens, warn))
	}
	if len(sens) > 0 {
		fns = append(fns, RejectByPattern(sens, warn))
	}
	return fns, nil
}

// IncludeFuncs returns the include functions for the patterns.
func (p Patterns) IncludeFuncs(warn WarnFunc) ([]IncludeFunc, error) {
	sens, insens, err := p.collect("include")
	if err != nil {
		return nil, err
	}
	var fns []IncludeFunc
	if len(insens) > 0 {
		fns = append(fns, IncludeByInsensitivePattern(insens, warn))
	}
	if len(sens) > 0 {
		fns = append(fns, IncludeByPattern(sens, warn))
	}
	return fns, nil
}

// ReadPatternFiles reads patterns from files, one a line: surrounding white
// space is trimmed, empty lines and lines starting with "#" are skipped, and
// $VAR / ${VAR} are replaced from the environment ("$$" is a literal "$").
// Files may be UTF-8 (with or without BOM) or UTF-16 with a BOM.
func ReadPatternFiles(files []string) ([]string, error) {
	expand := func(s string) string {
		if s == "$" {
			return "$"
		}
		return os.Getenv(s)
	}
	var out []string
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err == nil {
			data, err = decodeText(data)
		}
		if err == nil {
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				out = append(out, os.Expand(line, expand))
			}
			err = sc.Err()
		}
		if err != nil {
			return nil, fmt.Errorf("failed to read patterns from file %q: %w", name, err)
		}
	}
	return out, nil
}

// decodeText strips a byte order mark and converts UTF-16 to UTF-8.
func decodeText(b []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}):
		return b[3:], nil
	case bytes.HasPrefix(b, []byte{0xfe, 0xff}), bytes.HasPrefix(b, []byte{0xff, 0xfe}):
		big := b[0] == 0xfe
		b = b[2:]
		if len(b)%2 != 0 {
			return nil, fmt.Errorf("UTF-16 text has an odd number of bytes")
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			if big {
				u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			} else {
				u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
			}
		}
		return []byte(string(utf16.Decode(u))), nil
	}
	return b, nil
}

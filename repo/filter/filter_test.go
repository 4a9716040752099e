package filter

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// matchTests are restic's documented pattern semantics.
var matchTests = []struct {
	pattern, path string
	match         bool
}{
	{"", "", true},
	{"", "foo", true},
	{"*.go", "/foo/bar/test.go", true},
	{"*.c", "/foo/bar/test.go", false},
	{"*", "/foo/bar/test.go", true},
	{"foo*", "/foo/bar/test.go", true},
	{"bar*", "/foo/bar/test.go", true},
	{"/bar*", "/foo/bar/test.go", false},
	{"bar/*", "/foo/bar/test.go", true},
	{"baz/*", "/foo/bar/test.go", false},
	{"bar/test.go", "/foo/bar/test.go", true},
	{"bar/*.go", "/foo/bar/test.go", true},
	{"ba*/*.go", "/foo/bar/test.go", true},
	{"bb*/*.go", "/foo/bar/test.go", false},
	{"test.*", "/foo/bar/test.go", true},
	{"tesT.*", "/foo/bar/test.go", false},
	{"bar/*", "/foo/bar/baz", true},
	{"bar", "/foo/bar", true},
	{"/foo/bar", "/foo/bar", true},
	{"/foo/bar/", "/foo/bar", true},
	{"/foo/bar", "/foo/baz", false},
	{"/foo/bar", "/foo/baz/", false},
	{"/foo///bar", "/foo/bar", true},
	{"/foo/../bar", "/foo/bar", false},
	{"/foo/../bar", "/bar", true},
	{"/foo", "/foo/baz", true},
	{"/foo/", "/foo/baz", true},
	{"/foo/*", "/foo", false},
	{"/foo/*", "/foo/baz", true},
	{"bar", "/foo/bar/baz", true},
	{"bar", "/foo/bar/test.go", true},
	{"/foo/*test.*", "/foo/bar/test.go", false},
	{"/foo/*/test.*", "/foo/bar/test.go", true},
	{"/foo/*/bar/test.*", "/foo/bar/test.go", false},
	{"/*/*/bar/test.*", "/foo/bar/test.go", false},
	{"/*/*/bar/test.*", "/foo/bar/baz/test.go", false},
	{"/*/*/baz/test.*", "/foo/bar/baz/test.go", true},
	{"/*/foo/bar/test.*", "/foo/bar/baz/test.go", false},
	{"/*/foo/bar/test.*", "/foo/bar/baz/test.go", false},
	{"/foo/bar/test.*", "bar/baz/test.go", false},
	{"/x/y/bar/baz/test.*", "bar/baz/test.go", false},
	{"/x/y/bar/baz/test.c", "bar/baz/test.go", false},
	{"baz/test.*", "bar/baz/test.go", true},
	{"baz/tesT.*", "bar/baz/test.go", false},
	{"test.go", "bar/baz/test.go", true},
	{"*.go", "bar/baz/test.go", true},
	{"*.c", "bar/baz/test.go", false},
	{"sdk", "/foo/bar/sdk", true},
	{"sdk", "/foo/bar/sdk/test/sdk_foo.go", true},
	{"sdk/test/sdk_foo.go", "/foo/bar/sdk/test/sdk_foo.go", true},
	{"sdk/test/sdk_bar.go", "/foo/bar/sdk/test/sdk_foo.go", false},
	{"/foo/bar/sdk/test/sdk_bar.go", "/foo/bar/sdk/test/sdk_foo.go", false},
	{"/foo/**/test.go", "/foo/bar/test.go", true},
	{"/foo/**/test.go", "/foo/test.go", true},
	{"/foo/**/test.go", "/foo/a/b/c/test.go", true},
	{"/foo/**/test.go", "/bar/test.go", false},
	{"**/test.go", "/foo/bar/test.go", true},
	{"**/test.go", "test.go", true},
	{"foo/**", "/foo/bar/baz", true},
	{"/foo/**", "/foo", true},
	{"/foo/**/bar/**/baz", "/foo/x/bar/y/z/baz", true},
	{"/foo/**/bar/**/baz", "/foo/x/y/baz", false},
	{`/foo/\*`, "/foo/*", true},
	{`/foo/\*`, "/foo/x", false},
	{"/foo/[ab]ar", "/foo/bar", true},
	{"/foo/[^ab]ar", "/foo/bar", false},
	{"/foo/[!ab]ar", "/foo/bar", true}, // "!" is no negation in filepath.Match
	{"/foo/b?r", "/foo/bar", true},
	{"/", "/foo", true},
	{"x", "/", false},
}

func TestMatch(t *testing.T) {
	for _, tc := range matchTests {
		m, err := Match(tc.pattern, tc.path)
		if tc.path == "" && tc.pattern != "" {
			continue
		}
		if err != nil {
			t.Errorf("Match(%q, %q): %v", tc.pattern, tc.path, err)
			continue
		}
		if m != tc.match {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.path, m, tc.match)
		}
	}
	if _, err := Match("x", ""); !errors.Is(err, ErrBadString) {
		t.Errorf("empty path: %v", err)
	}
	if _, err := Match("/foo/[x", "/foo/a"); err == nil {
		t.Errorf("malformed pattern matched without error")
	}
}

func TestChildMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		match         bool
	}{
		{"", "", true},
		{"/foo/bar/baz", "/foo", true},
		{"/foo/bar/baz", "/foo/bar", true},
		{"/foo/bar/baz", "/foo/bar/baz", true},
		{"/foo/bar/baz", "/foo/bar/baz/x", true},
		{"/foo/bar/baz", "/bar", false},
		{"/foo/bar/baz", "/foo/x", false},
		{"foo/bar", "/anything/at/all", true},
		{"/foo/**/baz", "/foo/a/b/c", true},
		{"/foo/**/baz", "/bar", false},
		{"/foo/*/baz", "/foo/x", true},
		{"/foo/*/baz", "/fox/x", false},
	} {
		m, err := ChildMatch(tc.pattern, tc.path)
		if err != nil {
			t.Errorf("ChildMatch(%q, %q): %v", tc.pattern, tc.path, err)
		} else if m != tc.match {
			t.Errorf("ChildMatch(%q, %q) = %v, want %v", tc.pattern, tc.path, m, tc.match)
		}
	}
}

func TestListNegation(t *testing.T) {
	pats := ParsePatterns([]string{"/home/user/*", "!/home/user/keep", ""})
	for path, want := range map[string]bool{
		"/home/user/foo":      true,
		"/home/user/keep":     false,
		"/home/user/keep/sub": false, // a pattern matching a directory covers what is below it
		"/etc":                false,
	} {
		if m, err := List(pats, path); err != nil || m != want {
			t.Errorf("List(%q) = %v, %v; want %v", path, m, err, want)
		}
	}
	m, c, err := ListWithChild(ParsePatterns([]string{"/a/b/c"}), "/a")
	if err != nil || m || !c {
		t.Errorf("ListWithChild(/a) = %v %v %v, want false true", m, c, err)
	}
	m, c, _ = ListWithChild(ParsePatterns([]string{"/a/b/c", "!/a"}), "/a")
	if m || c {
		t.Errorf("negated parent: %v %v, want false false", m, c)
	}
	if m, c, _ := ListWithChild(nil, "/a"); m || c {
		t.Errorf("empty list matched")
	}
}

func TestValidateAndFuncs(t *testing.T) {
	err := ValidatePatterns([]string{"ok", "[bad", "/x/[y/z", "!*.go"})
	var ipe *InvalidPatternError
	if !errors.As(err, &ipe) || !slices.Equal(ipe.InvalidPatterns, []string{"[bad", "/x/[y/z"}) {
		t.Fatalf("ValidatePatterns: %v", err)
	}
	if err.Error() != "invalid pattern(s) provided:\n[bad\n/x/[y/z" {
		t.Errorf("message %q", err.Error())
	}

	reject := RejectByInsensitivePattern([]string{"*.JPG"}, nil)
	if !reject("/a/B.jpg") || reject("/a/b.png") {
		t.Errorf("RejectByInsensitivePattern")
	}
	include := IncludeByPattern([]string{"/src/text"}, nil)
	if m, c := include("/src"); m || !c {
		t.Errorf("include /src: %v %v", m, c)
	}
	if m, _ := include("/src/text/a"); !m {
		t.Errorf("include below a matched directory")
	}
}

func TestPatternFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ARCA_FILTER_TEST", "expanded")
	utf8 := filepath.Join(dir, "utf8")
	if err := os.WriteFile(utf8, []byte("\xef\xbb\xbf# comment\n\n  *.go  \n/$ARCA_FILTER_TEST/x\nprice$$\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	utf16 := filepath.Join(dir, "utf16")
	// "a\nb" in UTF-16LE with BOM
	if err := os.WriteFile(utf16, []byte{0xff, 0xfe, 'a', 0, '\n', 0, 'b', 0}, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPatternFiles([]string{utf8, utf16})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"*.go", "/expanded/x", "price$", "a", "b"}
	if !slices.Equal(got, want) {
		t.Errorf("ReadPatternFiles = %q, want %q", got, want)
	}
	if _, err := ReadPatternFiles([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Errorf("missing file: no error")
	}

	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("[x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Patterns{Files: []string{bad}}.RejectFuncs(nil)
	if err == nil || err.Error() != "--exclude-file: invalid pattern(s) provided:\n[x" {
		t.Errorf("bad exclude file: %v", err)
	}
	_, err = Patterns{Insensitive: []string{"[y"}}.IncludeFuncs(nil)
	if err == nil || err.Error() != "--iinclude: invalid pattern(s) provided:\n[y" {
		t.Errorf("bad iinclude: %v", err)
	}
	fns, err := Patterns{Patterns: []string{"*.go"}, InsensitiveFiles: []string{utf16}}.IncludeFuncs(nil)
	if err != nil || len(fns) != 2 {
		t.Fatalf("IncludeFuncs: %d, %v", len(fns), err)
	}
	if m, _ := fns[0]("/x/A"); !m {
		t.Errorf("insensitive include from file did not match /x/A")
	}
	if (Patterns{}).Empty() != true || (Patterns{Files: []string{"x"}}).Empty() {
		t.Errorf("Empty")
	}
}

package backend

import (
	"slices"
	"testing"
)

// The expectations follow restic's splitting rule (see SplitShellStrings),
// quirks included: quotes end words, a backslash splits, and a quote after
// a backslash is an ordinary character.
func TestSplitShellStrings(t *testing.T) {
	for in, want := range map[string][]string{
		`a  b	c`:                         {"a", "b", "c"},
		`  lead and trail  `:             {"lead", "and", "trail"},
		`'a b' "c d"`:                    {"a b", "c d"},
		`sh -c 'echo x; exit 2'`:         {"sh", "-c", "echo x; exit 2"},
		`a'b c'd`:                        {"a", "b c", "d"},
		`"it's" 'say "hi"'`:              {"it's", `say "hi"`},
		`a\ b`:                           {"a", "b"},
		`\'c`:                            {"'c"},
		`x '' "" y`:                      {"x", "y"},
		`"a\b"`:                          {`a\b`},
		`"a \" b"`:                       {`a \" b`},
		`ssh -o 'Foo=bar baz' h -s sftp`: {"ssh", "-o", "Foo=bar baz", "h", "-s", "sftp"},
		`ünï côdé`:                       {"ünï", "côdé"},
	} {
		got, err := SplitShellStrings(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("SplitShellStrings(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		`'x`:    "single-quoted string not terminated",
		`"x`:    "double-quoted string not terminated",
		``:      "command string is empty",
		"  \t ": "command string is empty",
		`'' ""`: "command string is empty",
	} {
		if got, err := SplitShellStrings(in); err == nil || err.Error() != want {
			t.Errorf("SplitShellStrings(%q) = %q, %v; want the error %q", in, got, err, want)
		}
	}
}

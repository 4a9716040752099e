package backend

import (
	"errors"
	"unicode"
)

// SplitShellStrings splits a command line into words the way restic does
// for --password-command, -o sftp.command and -o sftp.args, so that the
// same strings mean the same commands: blanks separate words, a pair of
// single or double quotes groups what lies between into one word (the
// quotes themselves separate words too), and a backslash outside quotes
// separates words and makes a quote right after it an ordinary
// character. Nothing is expanded or unescaped.
func SplitShellStrings(s string) ([]string, error) {
	var (
		words       []string
		quote, last rune
		start       = -1 // where the current word began; -1 between words
	)
	for i, c := range s {
		var sep bool
		switch {
		case last != '\\' && quote != 0 && c == quote:
			quote, sep = 0, true
		case last != '\\' && quote == 0 && (c == '"' || c == '\''):
			quote, sep = c, true
		default:
			last = c
			sep = quote == 0 && (c == '\\' || unicode.IsSpace(c))
		}
		switch {
		case sep && start >= 0:
			words = append(words, s[start:i])
			start = -1
		case !sep && start < 0:
			start = i
		}
	}
	if start >= 0 {
		words = append(words, s[start:])
	}
	switch quote {
	case '\'':
		return nil, errors.New("single-quoted string not terminated")
	case '"':
		return nil, errors.New("double-quoted string not terminated")
	}
	if len(words) == 0 {
		return nil, errors.New("command string is empty")
	}
	return words, nil
}

package repo

import "errors"

// ErrDamaged is matched (errors.Is) by errors about repository data that
// failed its check: a file whose content does not hash to its name, a
// file or blob that does not decrypt, decompress or decode.
var ErrDamaged = errors.New("repository data is damaged")

// damagedError marks err as ErrDamaged without changing its message.
type damagedError struct{ err error }

func (e *damagedError) Error() string { return e.err.Error() }

func (e *damagedError) Unwrap() []error { return []error{e.err, ErrDamaged} }

func damaged(err error) error {
	if err == nil {
		return nil
	}
	return &damagedError{err}
}

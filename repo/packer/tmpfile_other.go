//go:build !linux

package packer

import (
	"errors"
	"os"
)

// createUnnamed reports that this system cannot create unnamed files; New
// falls back to a named temporary file.
func createUnnamed(string) (*os.File, bool) { return nil, false }

// linkTo is never called: no file is linkable here.
func linkTo(*os.File, string) error { return errNoLink }

var errNoLink = errors.New("unnamed temporary files are not supported")

// startWriteback does nothing here: the sync before the link writes
// everything.
func startWriteback(*os.File, int64, int64) {}

package archiver

import (
	"os"
	"path/filepath"
	"sync"
)

// absPaths makes paths absolute as filepath.Abs does, but asks for the
// working directory once instead of for every item (filepath.Abs costs two
// stat calls per relative path).
type absPaths struct {
	once sync.Once
	wd   string
	err  error
}

func (a *absPaths) abs(p string) (string, error) {
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	a.once.Do(func() { a.wd, a.err = os.Getwd() })
	if a.err != nil {
		return "", a.err
	}
	return filepath.Join(a.wd, p), nil
}

package archiver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/arca-backup/arca/repo/fsnode"
)

// CombineSelects returns a SelectFunc that includes an item only when
// every function does.
func CombineSelects(fns []SelectFunc) SelectFunc {
	if len(fns) == 0 {
		return nil
	}
	return func(p string, st fsnode.Stat) bool {
		for _, f := range fns {
			if !f(p, st) {
				return false
			}
		}
		return true
	}
}

// CacheDirTag is the --exclude-caches marker: CACHEDIR.TAG with its signature.
const CacheDirTag = "CACHEDIR.TAG:Signature: 8a477f597d28d172789f06886806bc55"

// SelectIfNotPresent implements --exclude-if-present filename[:header]: the
// contents of a directory holding the tag file (starting with header, if
// given) are excluded, except the tag file itself.
func SelectIfNotPresent(spec string, warn func(format string, args ...any)) (SelectFunc, error) {
	if spec == "" {
		return nil, errors.New("name for exclusion tagfile is empty")
	}
	name, header, _ := strings.Cut(spec, ":")
	if name == "" {
		return nil, fmt.Errorf("no name for exclusion tagfile provided")
	}
	var mu sync.Mutex
	cache := map[string]bool{}
	return func(p string, _ fsnode.Stat) bool {
		if filepath.Base(p) == name {
			return true
		}
		dir := filepath.Dir(p)
		mu.Lock()
		defer mu.Unlock()
		rejected, ok := cache[dir]
		if !ok {
			rejected = dirHasTag(dir, name, header, warn)
			cache[dir] = rejected
		}
		return !rejected
	}, nil
}

func dirHasTag(dir, name, header string, warn func(format string, args ...any)) bool {
	tf := filepath.Join(dir, name)
	if _, err := os.Lstat(tf); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			warn("could not access exclusion tagfile: %v", err)
		}
		return false
	}
	if header == "" {
		return true
	}
	f, err := os.Open(tf)
	if err != nil {
		warn("could not open exclusion tagfile: %v", err)
		return false
	}
	defer f.Close()
	buf := make([]byte, len(header))
	_, err = io.ReadFull(f, buf)
	switch {
	case err == io.EOF:
		warn("invalid (too short) signature in exclusion tagfile %q\n", tf)
		return false
	case err != nil:
		warn("could not read signature from exclusion tagfile %q: %v\n", tf, err)
		return false
	case !bytes.Equal(buf, []byte(header)):
		warn("invalid signature in exclusion tagfile %q\n", tf)
		return false
	}
	return true
}

// SelectBySize implements --exclude-larger-than: files (not directories)
// larger than max bytes are excluded.
func SelectBySize(max int64) SelectFunc {
	return func(_ string, st fsnode.Stat) bool {
		return st.Mode.IsDir() || st.Size <= max
	}
}

// SelectByDevice implements --one-file-system: items on a device other than
// that of the target they belong to are excluded, except directories that
// are mount points (their node is kept, their contents are not).
func SelectByDevice(targets []string) (SelectFunc, error) {
	devs := map[string]uint64{}
	for _, t := range targets {
		abs, err := filepath.Abs(filepath.Clean(t))
		if err != nil {
			return nil, err
		}
		fi, err := os.Lstat(abs)
		if err != nil {
			return nil, err
		}
		devs[abs] = fsnode.StatOf(fi).Dev
	}
	if len(devs) == 0 {
		return nil, errors.New("zero allowed devices")
	}
	allowed := func(item string, dev uint64) (bool, bool) {
		for dir := item; ; dir = filepath.Dir(dir) {
			if id, ok := devs[dir]; ok {
				return id == dev, true
			}
			if dir == filepath.Dir(dir) {
				return false, false
			}
		}
	}
	return func(p string, st fsnode.Stat) bool {
		p = filepath.Clean(p)
		ok, found := allowed(p, st.Dev)
		if !found {
			return false
		}
		if ok {
			return true
		}
		if !st.Mode.IsDir() {
			return false
		}
		parent := filepath.Dir(p)
		fi, err := os.Lstat(parent)
		if err != nil {
			return false
		}
		pok, _ := allowed(parent, fsnode.StatOf(fi).Dev)
		return pok
	}, nil
}

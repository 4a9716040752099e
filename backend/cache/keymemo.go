package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A repository's cache can remember which key file opened it last, so
// that the next command can derive the master key from that key file
// while it is still connecting, instead of after it has listed and read
// the key files (the derivation is the longest step of opening a
// repository, and connecting over ssh takes as long again). The key file
// is kept as the repository holds it: its master key is encrypted with the
// password, exactly as in keys/ of the repository, and the caller uses it
// only once the repository lists a key file of the same name, which is
// the hash of its content. restic ignores both subdirectories. The copy
// is readable by its owner only (0600); whoever can read it can try
// passwords against it offline, as against the repository's own copy.
//
//	<repository cache>/keys/<key ID>           the key file
//	<repository cache>/locations/<hash>        the key ID, for one location
//
// <hash> is the SHA-256 of the location string, so several locations of
// one repository each have their own.
const (
	keysDir      = "keys"
	locationsDir = "locations"
)

// locationName is the name of the file that remembers location's key.
func locationName(location string) string {
	sum := sha256.Sum256([]byte(location))
	return hex.EncodeToString(sum[:])
}

// RecallKey returns the key file that RememberKey last kept for location
// in a repository cache under base (DefaultBase when empty). ok is false
// when there is none, or when it is damaged (its content must hash to the
// name it was kept under). When the caches of several repositories
// remember location (a repository was replaced by another at the same
// place), the newest memo wins.
func RecallKey(base, location string) (keyFile []byte, ok bool) {
	dirs, err := Dirs(base)
	if err != nil {
		return nil, false
	}
	var newest struct {
		dir   string
		keyID string
		mod   time.Time
	}
	name := locationName(location)
	for _, d := range dirs {
		p := filepath.Join(d.Path, locationsDir, name)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.ModTime().Before(newest.mod) {
			continue
		}
		id, err := os.ReadFile(p)
		if err != nil || !isHexID(string(id)) {
			continue
		}
		newest.dir, newest.keyID, newest.mod = d.Path, string(id), fi.ModTime()
	}
	if newest.dir == "" {
		return nil, false
	}
	buf, err := os.ReadFile(filepath.Join(newest.dir, keysDir, newest.keyID))
	if err != nil {
		return nil, false
	}
	if sum := sha256.Sum256(buf); hex.EncodeToString(sum[:]) != strings.ToLower(newest.keyID) {
		return nil, false
	}
	return buf, true
}

// RememberKey keeps keyFile, the content of the key file that opened the
// repository at location, for RecallKey. It writes nothing when the cache
// already remembers that key for location, and drops a key file no
// location names any more.
func (c *Cache) RememberKey(location string, keyFile []byte) error {
	sum := sha256.Sum256(keyFile)
	keyID := hex.EncodeToString(sum[:])
	memo := filepath.Join(c.dir, locationsDir, locationName(location))
	keyPath := filepath.Join(c.dir, keysDir, keyID)
	if old, err := os.ReadFile(memo); err == nil && string(old) == keyID {
		if _, err := os.Stat(keyPath); err == nil {
			return nil
		}
	}
	if err := writeFile(keyPath, bytes.NewReader(keyFile)); err != nil {
		return fmt.Errorf("remember key: %w", err)
	}
	if err := writeFile(memo, strings.NewReader(keyID)); err != nil {
		return fmt.Errorf("remember key: %w", err)
	}
	return c.dropUnnamedKeys()
}

// dropUnnamedKeys removes the kept key files that no location names.
func (c *Cache) dropUnnamedKeys() error {
	memos, err := os.ReadDir(filepath.Join(c.dir, locationsDir))
	if err != nil {
		return fmt.Errorf("remember key: %w", err)
	}
	named := map[string]bool{}
	for _, m := range memos {
		if !isHexID(m.Name()) {
			continue // a memo being written
		}
		if id, err := os.ReadFile(filepath.Join(c.dir, locationsDir, m.Name())); err == nil {
			named[string(id)] = true
		}
	}
	keys, err := os.ReadDir(filepath.Join(c.dir, keysDir))
	if err != nil {
		return fmt.Errorf("remember key: %w", err)
	}
	for _, k := range keys {
		if isHexID(k.Name()) && !named[k.Name()] {
			if err := os.Remove(filepath.Join(c.dir, keysDir, k.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remember key: %w", err)
			}
		}
	}
	return nil
}

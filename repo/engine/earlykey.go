package engine

import (
	"github.com/arca-backup/arca/backend/cache"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo"
)

// earlyKey is the derivation of a master key from the key file the cache
// remembers for a location, started before Open connects: deriving takes
// 0.1-0.3 s with restic's scrypt parameters, and connecting over ssh as
// long again, so the two overlap. The repository accepts the key only
// when it lists that key file (see repo.OpenOptions.Early).
type earlyKey struct {
	password string
	file     []byte
	done     chan struct{}
	key      *crypto.Key
	err      error
}

// startEarlyKey starts deriving the key from the key file remembered for
// location, when there is one and the password is known already; it
// returns nil otherwise.
func startEarlyKey(opts Options, location string) *earlyKey {
	pw, ok := opts.knownPassword()
	if !ok {
		return nil
	}
	file, ok := cache.RecallKey(opts.CacheDir, location)
	if !ok {
		return nil
	}
	kf, err := crypto.ParseKeyFile(file)
	if err != nil {
		return nil
	}
	k := &earlyKey{password: pw, file: file, done: make(chan struct{})}
	go func() {
		defer close(k.done)
		k.key, k.err = kf.Open(pw)
	}()
	return k
}

// forPassword hands the derivation to repo.Open when it used password
// (nil when there is none). A derivation with another password is
// useless, but it is waited for, so that it does not run beside the
// repository's own derivations (each holds a large table).
func (k *earlyKey) forPassword(password string) *repo.EarlyKey {
	if k == nil {
		return nil
	}
	if password != k.password {
		<-k.done
		return nil
	}
	return &repo.EarlyKey{File: k.file, Wait: func() (*crypto.Key, error) {
		<-k.done
		return k.key, k.err
	}}
}

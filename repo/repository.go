package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/cache"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/index"
	"github.com/arca-backup/arca/repo/internal/bufpool"
	"github.com/arca-backup/arca/repo/model"
	"github.com/klauspost/compress/zstd"
)

// Repository is an open restic repository.
type Repository struct {
	be    backend.Backend
	cache *cache.Cache // nil without a local cache
	key   *crypto.Key
	// cipher is key prepared for opening many blobs (see crypto.Cipher)
	cipher *crypto.Cipher
	keyID  model.ID
	// keyFile is the content of the key file that opened the repository
	keyFile []byte
	cfg     model.Config
	// kdf are the scrypt parameters for new key files (nil: calibrate on
	// first use; see SetKDFParams).
	kdf *crypto.Params

	idx           *index.Index
	idxLoaded     bool
	indexProgress IndexProgress // OpenOptions.IndexProgress
	// treeBufs are buffers to load trees into (LoadTree; larger trees
	// are decoded as they are decompressed): each
	// tree's plaintext in a fresh one were a tenth of the allocations of
	// an unchanged re-run of /usr
	treeBufs bufpool.Pool
	// trees holds small tree packs in memory on a remote backend without
	// a cache (see treeMemo); made on first use
	trees        *treeMemo
	treeMemoOnce sync.Once
	idxMu        sync.Mutex
	// batch holds the stored packs no index file names yet
	batch indexBatch

	dec *zstd.Decoder
	// unpackedLevel is the zstd level of the files outside packs (see
	// OpenOptions.Compression)
	unpackedLevel zstd.EncoderLevel
	encMu         sync.Mutex
	encs          map[zstd.EncoderLevel]*encoder // see encoder
}

// OpenOptions tune Open.
type OpenOptions struct {
	// KeyHint names the key file to try first (an ID or prefix).
	KeyHint string
	// MaxKeys limits how many keys are tried (0: all); when there are more
	// and none of them opens, Open fails with ErrMaxKeysReached.
	MaxKeys int
	// Early is a key file whose master key is being derived since before
	// Open was called (nil: none). When the repository lists a key file of
	// its name (and KeyHint, if any, is a prefix of it), Open uses its
	// master key instead of loading and deriving key files itself.
	Early *EarlyKey
	// Compression sets the zstd level of the files a version 2
	// repository keeps outside packs (index, snapshot and lock files), as
	// restic's global --compression does: fastest, better and max choose
	// their levels, auto and off the default one. Packs take their level
	// from each Writer's options.
	Compression CompressionMode
	// IndexProgress, when set, follows the one loading of the index files
	// (LoadIndex), whichever operation asks for it first.
	IndexProgress IndexProgress
}

// EarlyKey is a key file remembered from an earlier opening (see
// cache.RecallKey), whose master key a program started deriving before
// it had connected to the repository.
type EarlyKey struct {
	File []byte // the key file's content; its hash names it
	// Wait returns the master key, or the derivation's error
	// (crypto.ErrWrongPassword when the password does not open it). It
	// must derive with the password given to Open.
	Wait func() (*crypto.Key, error)
}

// Open opens the repository in be with password.
func Open(ctx context.Context, be backend.Backend, password string, opts OpenOptions) (*Repository, error) {
	// the config file is read while the key files are listed and read
	// (a round trip less on remote backends); a missing one is reported
	// before any key derivation
	type loaded struct {
		buf []byte
		err error
	}
	cfgRead := make(chan loaded, 1)
	go func() {
		buf, err := backend.LoadAll(ctx, be, backend.Handle{Type: backend.ConfigFile})
		cfgRead <- loaded{buf, err}
	}()
	var cfg *loaded
	config := func() error {
		if cfg == nil {
			c := <-cfgRead
			cfg = &c
		}
		switch {
		case cfg.err == nil:
			return nil
		case backend.IsNotExist(cfg.err):
			return fmt.Errorf("%s: %w", be.Location(), ErrNoRepository)
		}
		return fmt.Errorf("open repository %s: %w", be.Location(), cfg.err)
	}
	r := newRepository(be)
	r.unpackedLevel = opts.Compression.zstdLevel()
	r.indexProgress = opts.IndexProgress
	if err := r.searchKey(ctx, password, opts, config); err != nil {
		if cerr := config(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	if err := config(); err != nil {
		return nil, err
	}
	buf, err := r.unpack(backend.ConfigFile, model.ID{}, cfg.buf)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	if err := json.Unmarshal(buf, &r.cfg); err != nil {
		return nil, fmt.Errorf("decode config: %w", err)
	}
	if err := r.cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return r, nil
}

func newRepository(be backend.Backend) *Repository {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		panic(err) // only invalid options fail
	}
	return &Repository{be: be, idx: index.New(), dec: dec, unpackedLevel: zstd.SpeedDefault, encs: map[zstd.EncoderLevel]*encoder{},
		treeBufs: bufpool.Pool{Max: streamTreesFrom}}
}

// Close releases the repository's resources (not the backend's).
func (r *Repository) Close() {
	r.dec.Close()
	r.encMu.Lock()
	defer r.encMu.Unlock()
	for _, enc := range r.encs {
		enc.Close()
	}
}

// UseCache puts a local cache in front of the repository's backend: index
// and snapshot files and packs of trees are then read from it. Call it
// right after Open, before any other use. A cached file that fails its
// check is dropped and fetched again.
func (r *Repository) UseCache(c *cache.Cache) {
	r.cache = c
	r.be = c.Wrap(r.be)
}

// Cache returns the local cache, or nil.
func (r *Repository) Cache() *cache.Cache { return r.cache }

// dropCached removes a file that failed its check from the cache and
// reports whether it was there, so that reading it again may help.
func (r *Repository) dropCached(h backend.Handle) bool {
	if r.cache == nil {
		return false
	}
	dropped, err := r.cache.Forget(h)
	return dropped && err == nil
}

// Backend returns the backend the repository lives in.
func (r *Repository) Backend() backend.Backend { return r.be }

// Config returns the repository's config.
func (r *Repository) Config() model.Config { return r.cfg }

// Key returns the master key.
func (r *Repository) Key() *crypto.Key { return r.key }

// Cipher returns the master key prepared for opening many blobs.
func (r *Repository) Cipher() *crypto.Cipher { return r.cipher }

// setKey makes key the master key.
func (r *Repository) setKey(key *crypto.Key) {
	r.key, r.cipher = key, key.Cipher()
}

// KeyID returns the ID of the key file that was opened.
func (r *Repository) KeyID() model.ID { return r.keyID }

// KeyFile returns the content of the key file that was opened (nil for a
// repository this program created or changed the password of).
func (r *Repository) KeyFile() []byte { return r.keyFile }

// Index returns the in-memory index (empty until LoadIndex).
func (r *Repository) Index() *index.Index { return r.idx }

// searchKey tries the key files until one opens with password. Before the
// first key derivation it calls ready, and gives up with its error.
func (r *Repository) searchKey(ctx context.Context, password string, opts OpenOptions, ready func() error) error {
	var names []string
	err := r.be.List(ctx, backend.KeyFile, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	if opts.KeyHint != "" {
		for i, n := range names {
			if strings.HasPrefix(n, opts.KeyHint) {
				names[0], names[i] = names[i], names[0]
				break
			}
		}
	}
	if e := opts.Early; e != nil {
		opened, rest, err := r.openEarly(e, names, opts.KeyHint, ready)
		if opened || err != nil {
			return err
		}
		names = rest
	}
	truncated := opts.MaxKeys > 0 && len(names) > opts.MaxKeys
	if truncated {
		names = names[:opts.MaxKeys]
	}
	var lastErr error
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		kf, raw, err := r.loadKeyFile(ctx, name)
		if err != nil {
			lastErr = err
			continue
		}
		if err := ready(); err != nil {
			return err
		}
		key, err := kf.Open(password)
		if err != nil {
			if !errors.Is(err, crypto.ErrWrongPassword) {
				lastErr = fmt.Errorf("key %s: %w", name, err)
			}
			continue
		}
		r.setKey(key)
		r.keyFile = raw
		r.keyID, _ = model.ParseID(name)
		return nil
	}
	switch {
	case truncated:
		return ErrMaxKeysReached
	case lastErr != nil:
		return fmt.Errorf("%w (last error: %v)", ErrWrongPassword, lastErr)
	}
	return ErrWrongPassword
}

// openEarly takes the master key of the early derivation e when names (the
// listed key files) hold its key file and keyHint, if any, is a prefix of
// its name; ready is called first, as before any derivation. Otherwise it
// returns the names left to search: without that key file when the
// password does not open it.
func (r *Repository) openEarly(e *EarlyKey, names []string, keyHint string, ready func() error) (opened bool, rest []string, err error) {
	id := model.Hash(e.File)
	name := id.String()
	listed := slices.Contains(names, name) && strings.HasPrefix(name, keyHint)
	// wait in any case: another derivation beside it would double the
	// memory key derivation takes
	key, err := e.Wait()
	switch {
	case listed && err == nil:
		if err := ready(); err != nil {
			return false, nil, err
		}
		r.setKey(key)
		r.keyID, r.keyFile = id, e.File
		return true, nil, nil
	case listed && errors.Is(err, crypto.ErrWrongPassword):
		return false, slices.DeleteFunc(names, func(n string) bool { return n == name }), nil
	}
	return false, names, nil
}

// LoadKeyFile reads and parses keys/<name>.
func (r *Repository) LoadKeyFile(ctx context.Context, name string) (*crypto.KeyFile, error) {
	kf, _, err := r.loadKeyFile(ctx, name)
	return kf, err
}

// loadKeyFile is LoadKeyFile that also returns the file's content.
func (r *Repository) loadKeyFile(ctx context.Context, name string) (*crypto.KeyFile, []byte, error) {
	h := backend.Handle{Type: backend.KeyFile, Name: name}
	buf, err := backend.LoadAll(ctx, r.be, h)
	if err != nil {
		return nil, nil, fmt.Errorf("load key %s: %w", name, err)
	}
	if id, err := model.ParseID(name); err == nil && model.Hash(buf) != id {
		return nil, nil, fmt.Errorf("key %s: content does not match its name", name)
	}
	kf, err := crypto.ParseKeyFile(buf)
	if err != nil {
		return nil, nil, fmt.Errorf("key %s: %w", name, err)
	}
	return kf, buf, nil
}

// LoadRaw reads a whole file and checks that its content hashes to its
// name (except for the config file).
func (r *Repository) LoadRaw(ctx context.Context, t backend.FileType, id model.ID) ([]byte, error) {
	h := backend.Handle{Type: t}
	if t != backend.ConfigFile {
		h.Name = id.String()
	}
	buf, err := backend.LoadAll(ctx, r.be, h)
	if err == nil && t != backend.ConfigFile && model.Hash(buf) != id && r.dropCached(h) {
		buf, err = backend.LoadAll(ctx, r.be, h) // the cached copy was damaged
	}
	if err != nil {
		return nil, fmt.Errorf("load %s %s: %w", t, h.Name, err)
	}
	if t != backend.ConfigFile && model.Hash(buf) != id {
		return buf, damaged(fmt.Errorf("load %s %s: file is damaged: content hash %s does not match its name", t, h.Name, model.Hash(buf).Str()))
	}
	return buf, nil
}

// LoadUnpacked loads, decrypts and (for version 2) decompresses a
// snapshot, index, lock or the config file.
func (r *Repository) LoadUnpacked(ctx context.Context, t backend.FileType, id model.ID) ([]byte, error) {
	buf, err := r.LoadRaw(ctx, t, id)
	if err != nil {
		return nil, err
	}
	return r.unpack(t, id, buf)
}

// unpack decrypts and decompresses a file loaded by LoadRaw.
func (r *Repository) unpack(t backend.FileType, id model.ID, buf []byte) ([]byte, error) {
	// the plaintext replaces the ciphertext after the IV; a file too short
	// to hold IV and MAC is left to Open's error (and must not be sliced)
	var dst []byte
	if len(buf) >= crypto.Extension {
		dst = buf[16:16]
	}
	plain, err := r.cipher.Open(dst, buf)
	if err != nil {
		return nil, damaged(fmt.Errorf("decrypt %s %s: %w", t, fileName(t, id), err))
	}
	if t == backend.ConfigFile {
		return plain, nil
	}
	out, err := r.decompressUnpacked(plain)
	if err != nil {
		return nil, damaged(fmt.Errorf("%s %s: %w", t, fileName(t, id), err))
	}
	return out, nil
}

func fileName(t backend.FileType, id model.ID) string {
	if t == backend.ConfigFile {
		return "config"
	}
	return id.String()
}

func (r *Repository) decompressUnpacked(p []byte) ([]byte, error) {
	if r.cfg.Version < 2 || len(p) == 0 || p[0] == '[' || p[0] == '{' {
		return p, nil
	}
	if p[0] != 2 {
		return nil, fmt.Errorf("unsupported encoding format %d", p[0])
	}
	out, err := r.dec.DecodeAll(p[1:], nil)
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	return out, nil
}

// LoadJSONUnpacked loads an unpacked file and decodes its JSON into v.
func (r *Repository) LoadJSONUnpacked(ctx context.Context, t backend.FileType, id model.ID, v any) error {
	buf, err := r.LoadUnpacked(ctx, t, id)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(buf, v); err != nil {
		return fmt.Errorf("decode %s %s: %w", t, id, err)
	}
	return nil
}

// List calls fn with the ID and size of every file of type t whose name is
// a valid ID.
func (r *Repository) List(ctx context.Context, t backend.FileType, fn func(id model.ID, size int64) error) error {
	return r.be.List(ctx, t, func(fi backend.FileInfo) error {
		id, err := model.ParseID(fi.Name)
		if err != nil {
			return nil // not a repository file
		}
		return fn(id, fi.Size)
	})
}

// Find resolves an ID prefix among files of type t.
func (r *Repository) Find(ctx context.Context, t backend.FileType, prefix string) (model.ID, error) {
	if id, err := model.ParseID(prefix); err == nil {
		return id, nil
	}
	var found []model.ID
	err := r.List(ctx, t, func(id model.ID, _ int64) error {
		if strings.HasPrefix(id.String(), prefix) {
			found = append(found, id)
		}
		return nil
	})
	if err != nil {
		return model.ID{}, err
	}
	switch len(found) {
	case 0:
		return model.ID{}, fmt.Errorf("no %s file with prefix %q: %w", t, prefix, backend.ErrNotExist)
	case 1:
		return found[0], nil
	}
	return model.ID{}, fmt.Errorf("%s prefix %q matches %d files: %w", t, prefix, len(found), ErrAmbiguousID)
}

// forEachParallel runs fn for ids with a bounded number of workers and
// returns the first error.
func forEachParallel[T any](ctx context.Context, workers int, items []T, fn func(ctx context.Context, item T) error) error {
	if workers < 1 {
		workers = 1
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ch := make(chan T)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for item := range ch {
				if err := fn(ctx, item); err != nil {
					once.Do(func() { first = err; cancel(err) })
				}
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case ch <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	if first != nil {
		return first
	}
	return context.Cause(ctx)
}

// ForEachParallel runs fn for every item with at most workers running at
// once and returns the first error (for operations in subpackages).
func ForEachParallel[T any](ctx context.Context, workers int, items []T, fn func(ctx context.Context, item T) error) error {
	return forEachParallel(ctx, workers, items, fn)
}

// Package backendtest is a conformance suite for backend.Backend
// implementations.
//
// Run exercises a backend the way the repository layer uses it: saving,
// loading whole files and ranges, listing, stat, removal, missing files,
// replacing files, error propagation, cancellation and concurrent use. Every
// subtest gets a fresh, empty backend from the constructor, so the
// constructor must return a backend on its own empty location on which
// Create has already succeeded. Run the suite with -race.
package backendtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
)

// Run runs the conformance suite against backends made by newBackend. The
// suite closes each backend when its subtest ends.
func Run(t *testing.T, newBackend func(t *testing.T) backend.Backend) {
	s := &suite{newBackend: newBackend}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"Properties", s.testProperties},
		{"Create", s.testCreate},
		{"Config", s.testConfig},
		{"Types", s.testTypes},
		{"Missing", s.testMissing},
		{"LoadRanges", s.testLoadRanges},
		{"LoadOutOfRange", s.testLoadOutOfRange},
		{"LoadConsumer", s.testLoadConsumer},
		{"ZeroLength", s.testZeroLength},
		{"Large", s.testLarge},
		{"SaveExisting", s.testSaveExisting},
		{"SaveIncomplete", s.testSaveIncomplete},
		{"SaveReaderError", s.testSaveReaderError},
		{"SaveFromFile", s.testSaveFromFile},
		{"List", s.testList},
		{"ListCancel", s.testListCancel},
		{"ListError", s.testListError},
		{"ModTime", s.testModTime},
		{"Concurrent", s.testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	newBackend func(t *testing.T) backend.Backend
}

func (s *suite) open(t *testing.T) backend.Backend {
	t.Helper()
	be := s.newBackend(t)
	t.Cleanup(func() {
		if err := be.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return be
}

func newRand(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func randomBytes(r *rand.Rand, n int) []byte {
	buf := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	return buf
}

func idOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

var allTypes = []backend.FileType{
	backend.PackFile, backend.KeyFile, backend.LockFile, backend.SnapshotFile, backend.IndexFile,
}

func save(t *testing.T, be backend.Backend, h backend.Handle, data []byte) {
	t.Helper()
	if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("Save(%v): %v", h, err)
	}
}

func saveRandom(t *testing.T, be backend.Backend, tpe backend.FileType, data []byte) backend.Handle {
	t.Helper()
	h := backend.Handle{Type: tpe, Name: idOf(data)}
	save(t, be, h, data)
	return h
}

// load reads a range; its fn starts over on every call, so backends may
// call it again when they retry.
func load(ctx context.Context, be backend.Backend, h backend.Handle, length int, offset int64) ([]byte, error) {
	var buf []byte
	err := be.Load(ctx, h, length, offset, func(rd io.Reader) error {
		var err error
		buf, err = io.ReadAll(rd)
		return err
	})
	if err != nil {
		return nil, err
	}
	return buf, nil
}

func mustLoad(t *testing.T, be backend.Backend, h backend.Handle, length int, offset int64) []byte {
	t.Helper()
	buf, err := load(context.Background(), be, h, length, offset)
	if err != nil {
		t.Fatalf("Load(%v, length %d, offset %d): %v", h, length, offset, err)
	}
	return buf
}

func remove(t *testing.T, be backend.Backend, h backend.Handle) {
	t.Helper()
	if err := be.Remove(context.Background(), h); err != nil {
		t.Fatalf("Remove(%v): %v", h, err)
	}
}

func exists(t *testing.T, be backend.Backend, h backend.Handle) bool {
	t.Helper()
	_, err := be.Stat(context.Background(), h)
	switch {
	case err == nil:
		return true
	case backend.IsNotExist(err):
		return false
	}
	t.Fatalf("Stat(%v): %v", h, err)
	return false
}

func list(t *testing.T, be backend.Backend, tpe backend.FileType) map[string]backend.FileInfo {
	t.Helper()
	m := make(map[string]backend.FileInfo)
	err := be.List(context.Background(), tpe, func(fi backend.FileInfo) error {
		if _, dup := m[fi.Name]; dup {
			t.Errorf("List(%v) returned %q twice", tpe, fi.Name)
		}
		m[fi.Name] = fi
		return nil
	})
	if err != nil {
		t.Fatalf("List(%v): %v", tpe, err)
	}
	return m
}

func checkNotExist(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error for a missing file", what)
	}
	if !backend.IsNotExist(err) {
		t.Errorf("%s: IsNotExist false for %v", what, err)
	}
	if !backend.IsPermanent(err) {
		t.Errorf("%s: IsPermanent false for %v", what, err)
	}
}

func (s *suite) testProperties(t *testing.T) {
	be := s.open(t)
	if p := be.Properties(); p.Connections == 0 {
		t.Errorf("Properties().Connections = 0")
	}
	if be.Location() == "" {
		t.Errorf("Location() is empty")
	}
}

func (s *suite) testCreate(t *testing.T) {
	be := s.open(t)
	ctx := context.Background()
	if err := be.Create(ctx); err != nil {
		t.Fatalf("Create on an empty location: %v", err)
	}
	cfg := backend.Handle{Type: backend.ConfigFile}
	save(t, be, cfg, []byte("config"))
	// most backends refuse (backend.ErrConfigExists); S3's, as restic's,
	// leaves that to the repository's creation: either way the config
	// stays as it was
	if err := be.Create(ctx); err != nil && !errors.Is(err, backend.ErrConfigExists) {
		t.Fatalf("Create over a config file: %v, want nil or ErrConfigExists", err)
	}
	if got := mustLoad(t, be, cfg, 0, 0); string(got) != "config" {
		t.Errorf("config changed by Create: %q", got)
	}
	remove(t, be, cfg)
}

func (s *suite) testConfig(t *testing.T) {
	be := s.open(t)
	ctx := context.Background()
	cfg := backend.Handle{Type: backend.ConfigFile}

	_, err := load(ctx, be, cfg, 0, 0)
	checkNotExist(t, "Load(config)", err)
	_, err = be.Stat(ctx, cfg)
	checkNotExist(t, "Stat(config)", err)

	const content = "Config"
	save(t, be, cfg, []byte(content))
	// The config file has no name; any name refers to the same file.
	for _, name := range []string{"", "foo", "0000000000000000000000000000000000000000000000000000000000000000"} {
		h := backend.Handle{Type: backend.ConfigFile, Name: name}
		if got := mustLoad(t, be, h, 0, 0); string(got) != content {
			t.Errorf("Load(config named %q) = %q, want %q", name, got, content)
		}
		fi, err := be.Stat(ctx, h)
		if err != nil {
			t.Fatalf("Stat(config named %q): %v", name, err)
		}
		if fi.Size != int64(len(content)) {
			t.Errorf("Stat(config).Size = %d, want %d", fi.Size, len(content))
		}
	}
	if got := mustLoad(t, be, cfg, 3, 2); string(got) != content[2:5] {
		t.Errorf("Load(config, 3, 2) = %q", got)
	}
	remove(t, be, cfg)
	if exists(t, be, cfg) {
		t.Errorf("config still present after Remove")
	}
}

var testStrings = []struct{ id, data string }{
	{"c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2", "foobar"},
	{"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"},
	{"cc5d46bdb4991c6eae3eb739c9c8a7a46fe9654fab79c47b4fe48383b5b25e1c", "foo/bar"},
	{"4e54d2c721cbdb730f01b10b62dec622962b36966ec685880effa63d71c808f2", "foo/../../baz"},
}

// testTypes stores, reads, lists and removes files of every type; the types
// must not see each other's files.
func (s *suite) testTypes(t *testing.T) {
	be := s.open(t)
	ctx := context.Background()
	for _, tpe := range allTypes {
		for _, ts := range testStrings {
			h := backend.Handle{Type: tpe, Name: ts.id}
			if exists(t, be, h) {
				t.Fatalf("%v exists before it was saved", h)
			}
			save(t, be, h, []byte(ts.data))
			if got := mustLoad(t, be, h, 0, 0); string(got) != ts.data {
				t.Errorf("Load(%v) = %q, want %q", h, got, ts.data)
			}
			start, end := 1, len(ts.data)-2
			if got := mustLoad(t, be, h, end-start, int64(start)); string(got) != ts.data[start:end] {
				t.Errorf("Load(%v, %d, %d) = %q, want %q", h, end-start, start, got, ts.data[start:end])
			}
			fi, err := be.Stat(ctx, h)
			if err != nil {
				t.Fatalf("Stat(%v): %v", h, err)
			}
			if fi.Name != h.Name || fi.Size != int64(len(ts.data)) {
				t.Errorf("Stat(%v) = %+v, want name %q size %d", h, fi, h.Name, len(ts.data))
			}
		}
	}
	for _, tpe := range allTypes {
		got := list(t, be, tpe)
		if len(got) != len(testStrings) {
			t.Errorf("List(%v) returned %d files, want %d: %v", tpe, len(got), len(testStrings), got)
		}
		for _, ts := range testStrings {
			fi, ok := got[ts.id]
			if !ok {
				t.Errorf("List(%v) misses %s", tpe, ts.id)
				continue
			}
			if fi.Size != int64(len(ts.data)) {
				t.Errorf("List(%v) size of %s = %d, want %d", tpe, ts.id, fi.Size, len(ts.data))
			}
		}
	}
	// Remove one type's files; the others stay.
	for _, ts := range testStrings {
		remove(t, be, backend.Handle{Type: backend.LockFile, Name: ts.id})
	}
	if got := list(t, be, backend.LockFile); len(got) != 0 {
		t.Errorf("List(lock) after removing all locks: %v", got)
	}
	for _, tpe := range allTypes {
		if tpe == backend.LockFile {
			continue
		}
		if got := list(t, be, tpe); len(got) != len(testStrings) {
			t.Errorf("List(%v) after removing locks returned %d files", tpe, len(got))
		}
		for _, ts := range testStrings {
			remove(t, be, backend.Handle{Type: tpe, Name: ts.id})
		}
		if got := list(t, be, tpe); len(got) != 0 {
			t.Errorf("List(%v) after removing everything: %v", tpe, got)
		}
	}
}

func (s *suite) testMissing(t *testing.T) {
	be := s.open(t)
	ctx := context.Background()
	for _, tpe := range allTypes {
		h := backend.Handle{Type: tpe, Name: testStrings[0].id}
		_, err := be.Stat(ctx, h)
		checkNotExist(t, fmt.Sprintf("Stat(%v)", h), err)
		_, err = load(ctx, be, h, 0, 0)
		checkNotExist(t, fmt.Sprintf("Load(%v)", h), err)
		_, err = load(ctx, be, h, 10, 5)
		checkNotExist(t, fmt.Sprintf("Load(%v, 10, 5)", h), err)
		called := false
		_ = be.Load(ctx, h, 0, 0, func(io.Reader) error { called = true; return nil })
		if called {
			t.Errorf("Load(%v) called fn for a missing file", h)
		}
		if err := be.Remove(ctx, h); err != nil && !backend.IsNotExist(err) {
			t.Errorf("Remove(%v) of a missing file: %v (want nil or a not-exist error)", h, err)
		}
		if got := list(t, be, tpe); len(got) != 0 {
			t.Errorf("List(%v) of an empty backend: %v", tpe, got)
		}
	}
}

func (s *suite) testLoadRanges(t *testing.T) {
	be := s.open(t)
	r := newRand(t)
	length := r.IntN(1<<20) + 2000
	data := randomBytes(r, length)
	h := saveRandom(t, be, backend.PackFile, data)

	check := func(l int, o int) {
		t.Helper()
		want := data[o:]
		if l > 0 {
			want = want[:l]
		}
		got := mustLoad(t, be, h, l, int64(o))
		if !bytes.Equal(got, want) {
			t.Errorf("Load(length %d, offset %d): got %d bytes, want %d (contents equal: %v)",
				l, o, len(got), len(want), bytes.Equal(got[:min(len(got), len(want))], want[:min(len(got), len(want))]))
		}
	}
	// Edges.
	check(0, 0)
	check(length, 0)
	check(1, 0)
	check(1, length-1)
	check(0, length-1)
	check(0, length) // offset at the end, length 0: empty
	check(length-10, 10)
	for i := 0; i < 50; i++ {
		o := r.IntN(length)
		l := r.IntN(length - o + 1) // 0 means "to the end"
		check(l, o)
	}
	remove(t, be, h)
}

func (s *suite) testLoadOutOfRange(t *testing.T) {
	be := s.open(t)
	ctx := context.Background()
	r := newRand(t)
	length := r.IntN(100000) + 1000
	h := saveRandom(t, be, backend.PackFile, randomBytes(r, length))
	for _, o := range []int{length - 99, length - 50, length, length + 100} {
		_, err := load(ctx, be, h, 100, int64(o))
		if err == nil {
			t.Errorf("Load(length 100, offset %d) of a %d-byte file: no error", o, length)
			continue
		}
		if !backend.IsPermanent(err) {
			t.Errorf("Load(length 100, offset %d): error is not permanent: %v", o, err)
		}
		if backend.IsNotExist(err) {
			t.Errorf("Load(length 100, offset %d): out-of-range read reported as missing file: %v", o, err)
		}
	}
	remove(t, be, h)
}

// testLoadConsumer checks how Load treats its callback: errors come back
// unchanged, a reader need not be drained, and loading again works.
func (s *suite) testLoadConsumer(t *testing.T) {
	be := s.open(t)
	ctx := context.Background()
	r := newRand(t)
	data := randomBytes(r, 300000)
	h := saveRandom(t, be, backend.PackFile, data)

	errDeliberate := errors.New("deliberate error")
	err := be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		if _, err := io.Copy(io.Discard, rd); err != nil {
			return err
		}
		return errDeliberate
	})
	if !errors.Is(err, errDeliberate) {
		t.Errorf("Load did not return the consumer's error: %v", err)
	}
	if err != nil && backend.IsNotExist(err) {
		t.Errorf("consumer error reported as a missing file: %v", err)
	}

	// Read only the start and return.
	err = be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		buf := make([]byte, 10)
		_, err := io.ReadFull(rd, buf)
		if err == nil && !bytes.Equal(buf, data[:10]) {
			return errors.New("wrong first bytes")
		}
		return err
	})
	if err != nil {
		t.Errorf("Load with a partial read: %v", err)
	}

	// The callback may run more than once; a callback that starts over on
	// each call sees the whole range each time.
	calls := 0
	var got []byte
	err = be.Load(ctx, h, 1000, 5, func(rd io.Reader) error {
		calls++
		got = got[:0]
		buf, err := io.ReadAll(rd)
		got = append(got, buf...)
		return err
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if calls < 1 || !bytes.Equal(got, data[5:1005]) {
		t.Errorf("Load: %d calls, got %d bytes", calls, len(got))
	}
	for i := 0; i < 3; i++ {
		if got := mustLoad(t, be, h, 0, 0); !bytes.Equal(got, data) {
			t.Fatalf("repeated Load returned different data")
		}
	}

	// A cancelled context must not yield data.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = be.Load(cctx, h, 0, 0, func(rd io.Reader) error {
		_, err := io.Copy(io.Discard, rd)
		return err
	})
	if err == nil {
		t.Errorf("Load with a cancelled context succeeded")
	}
	remove(t, be, h)
}

func (s *suite) testZeroLength(t *testing.T) {
	be := s.open(t)
	ctx := context.Background()
	for _, tpe := range allTypes {
		h := saveRandom(t, be, tpe, nil)
		fi, err := be.Stat(ctx, h)
		if err != nil {
			t.Fatalf("Stat(%v): %v", h, err)
		}
		if fi.Size != 0 {
			t.Errorf("Stat(%v).Size = %d, want 0", h, fi.Size)
		}
		if got := mustLoad(t, be, h, 0, 0); len(got) != 0 {
			t.Errorf("Load(%v) returned %d bytes", h, len(got))
		}
		if _, err := load(ctx, be, h, 1, 0); err == nil {
			t.Errorf("Load(%v, 1, 0) of an empty file: no error", h)
		}
		l := list(t, be, tpe)
		if fi, ok := l[h.Name]; !ok || fi.Size != 0 {
			t.Errorf("List(%v) = %v, want %s with size 0", tpe, l, h.Name)
		}
		remove(t, be, h)
	}
}

func (s *suite) testLarge(t *testing.T) {
	be := s.open(t)
	ctx := context.Background()
	r := newRand(t)
	const size = 20 << 20
	data := randomBytes(r, size)
	h := saveRandom(t, be, backend.PackFile, data)

	fi, err := be.Stat(ctx, h)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if fi.Size != size {
		t.Errorf("Stat.Size = %d, want %d", fi.Size, size)
	}
	var sum string
	err = be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		hash := sha256.New()
		if _, err := io.Copy(hash, rd); err != nil {
			return err
		}
		sum = hex.EncodeToString(hash.Sum(nil))
		return nil
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if sum != h.Name {
		t.Errorf("Load returned content with hash %s, want %s", sum, h.Name)
	}
	if got := mustLoad(t, be, h, 1<<20, size-1<<20); !bytes.Equal(got, data[size-1<<20:]) {
		t.Errorf("Load of the last MiB returned wrong data")
	}
	if got := mustLoad(t, be, h, 4096, 12345678); !bytes.Equal(got, data[12345678:12345678+4096]) {
		t.Errorf("Load of a range in the middle returned wrong data")
	}
	remove(t, be, h)
}

// testSaveExisting saves a file over an existing one. Backends with atomic
// replace must show the new content; others may refuse, but must then keep
// the old content.
func (s *suite) testSaveExisting(t *testing.T) {
	be := s.open(t)
	ctx := context.Background()
	for _, tpe := range []backend.FileType{backend.ConfigFile, backend.LockFile, backend.PackFile} {
		h := backend.Handle{Type: tpe, Name: testStrings[0].id}
		if tpe == backend.ConfigFile {
			h.Name = ""
		}
		save(t, be, h, []byte("old content"))
		err := be.Save(ctx, h, backend.NewByteReader([]byte("new, longer content")))
		got := mustLoad(t, be, h, 0, 0)
		switch {
		case be.Properties().HasAtomicReplace:
			if err != nil {
				t.Errorf("Save over existing %v: %v (backend has atomic replace)", h, err)
			}
			if string(got) != "new, longer content" {
				t.Errorf("after replacing %v: content %q", h, got)
			}
		case err != nil:
			if string(got) != "old content" {
				t.Errorf("after refused replace of %v: content %q", h, got)
			}
		default:
			if string(got) != "new, longer content" {
				t.Errorf("after replacing %v: content %q", h, got)
			}
		}
		if fi := list(t, be, tpe); tpe != backend.ConfigFile && len(fi) != 1 {
			t.Errorf("List(%v) after replace: %v", tpe, fi)
		}
		remove(t, be, h)
	}
}

// shortReader claims more bytes than it has.
type shortReader struct {
	*backend.ByteReader
	extra int64
}

func (r *shortReader) Length() int64 { return r.ByteReader.Length() + r.extra }

func (s *suite) testSaveIncomplete(t *testing.T) {
	be := s.open(t)
	r := newRand(t)
	data := randomBytes(r, r.IntN(1<<20)+200000)
	h := backend.Handle{Type: backend.PackFile, Name: idOf(data)}
	err := be.Save(context.Background(), h, &shortReader{ByteReader: backend.NewByteReader(data), extra: 42})
	if err == nil {
		t.Errorf("Save of a reader shorter than its Length succeeded")
	}
	if exists(t, be, h) {
		fi, _ := be.Stat(context.Background(), h)
		t.Logf("incomplete upload left %v with %d bytes; removing it", h, fi.Size)
		_ = be.Remove(context.Background(), h)
	}
}

// failingReader fails after some bytes. It hides the ByteReader's other
// methods (WriteTo) so every byte goes through Read.
type failingReader struct {
	br    *backend.ByteReader
	after int64
	err   error
}

func (r *failingReader) Read(p []byte) (int, error) {
	pos := r.br.Size() - int64(r.br.Len())
	if pos >= r.after {
		return 0, r.err
	}
	if rest := r.after - pos; int64(len(p)) > rest {
		p = p[:rest]
	}
	return r.br.Read(p)
}
func (r *failingReader) Rewind() error { return r.br.Rewind() }
func (r *failingReader) Length() int64 { return r.br.Length() }

func (s *suite) testSaveReaderError(t *testing.T) {
	be := s.open(t)
	ctx := context.Background()
	r := newRand(t)
	data := randomBytes(r, 500000)
	h := backend.Handle{Type: backend.PackFile, Name: idOf(data)}
	errRead := errors.New("deliberate read error")
	err := be.Save(ctx, h, &failingReader{br: backend.NewByteReader(data), after: 100000, err: errRead})
	if err == nil {
		t.Fatalf("Save with a failing reader succeeded")
	}
	// A server may still be handling the aborted upload (rclone serve
	// restic writes, then deletes, the partial file after the client gave
	// up); give it a moment so its clean-up cannot hit the next upload.
	time.Sleep(time.Second)
	if exists(t, be, h) {
		got, err := load(ctx, be, h, 0, 0)
		if err == nil && !bytes.Equal(got, data) {
			t.Logf("failed upload left a partial %v (%d bytes); removing it", h, len(got))
		}
		_ = be.Remove(ctx, h)
	}
	// The same handle can be saved afterwards.
	save(t, be, h, data)
	if got := mustLoad(t, be, h, 0, 0); !bytes.Equal(got, data) {
		t.Errorf("Load after a failed and a successful Save returned wrong data")
	}
	remove(t, be, h)
}

// fileReader is a RewindReader that is not a ByteReader, so backends take
// their general path.
type fileReader struct {
	io.ReadSeeker
	n int64
}

func (r *fileReader) Rewind() error {
	_, err := r.Seek(0, io.SeekStart)
	return err
}
func (r *fileReader) Length() int64 { return r.n }

func (s *suite) testSaveFromFile(t *testing.T) {
	be := s.open(t)
	r := newRand(t)
	data := randomBytes(r, r.IntN(1<<20)+100000)
	h := backend.Handle{Type: backend.PackFile, Name: idOf(data)}
	if err := be.Save(context.Background(), h, &fileReader{ReadSeeker: bytes.NewReader(data), n: int64(len(data))}); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if got := mustLoad(t, be, h, 0, 0); !bytes.Equal(got, data) {
		t.Errorf("Load returned different data")
	}
	remove(t, be, h)
}

func (s *suite) testList(t *testing.T) {
	be := s.open(t)
	r := newRand(t)
	want := make(map[string]int64)
	n := r.IntN(20) + 20
	for i := 0; i < n; i++ {
		data := randomBytes(r, r.IntN(100)+55)
		h := saveRandom(t, be, backend.PackFile, data)
		want[h.Name] = int64(len(data))
	}
	got := list(t, be, backend.PackFile)
	for name, size := range want {
		fi, ok := got[name]
		if !ok {
			t.Errorf("List misses %s", name)
			continue
		}
		if fi.Size != size {
			t.Errorf("List: size of %s = %d, want %d", name, fi.Size, size)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("List returned extra file %q", name)
		}
	}
	// fn may call the backend (e.g. remove what it lists).
	ctx := context.Background()
	err := be.List(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		return be.Remove(ctx, backend.Handle{Type: backend.PackFile, Name: fi.Name})
	})
	if err != nil {
		t.Fatalf("List removing every file: %v", err)
	}
	if got := list(t, be, backend.PackFile); len(got) != 0 {
		t.Errorf("List after removing everything: %v", got)
	}
}

func (s *suite) testListCancel(t *testing.T) {
	be := s.open(t)
	const n = 5
	for i := 0; i < n; i++ {
		saveRandom(t, be, backend.PackFile, []byte(fmt.Sprintf("random test blob %v", i)))
	}

	t.Run("Cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := be.List(ctx, backend.PackFile, func(fi backend.FileInfo) error {
			t.Errorf("got %v for a cancelled context", fi)
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("List with a cancelled context: %v, want context.Canceled", err)
		}
	})
	t.Run("First", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		i := 0
		err := be.List(ctx, backend.PackFile, func(backend.FileInfo) error {
			i++
			if i == 1 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("List cancelled at the first file: %v, want context.Canceled", err)
		}
		if i != 1 {
			t.Fatalf("List called fn %d times after cancel at the first file", i)
		}
	})
	t.Run("Last", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		i := 0
		err := be.List(ctx, backend.PackFile, func(backend.FileInfo) error {
			i++
			if i == n {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("List cancelled at the last file: %v, want context.Canceled", err)
		}
		if i != n {
			t.Fatalf("List called fn %d times, want %d", i, n)
		}
	})
}

func (s *suite) testListError(t *testing.T) {
	be := s.open(t)
	for i := 0; i < 5; i++ {
		saveRandom(t, be, backend.SnapshotFile, []byte(fmt.Sprintf("snapshot %v", i)))
	}
	errStop := errors.New("stop")
	calls := 0
	err := be.List(context.Background(), backend.SnapshotFile, func(backend.FileInfo) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Errorf("List did not return fn's error: %v", err)
	}
	if calls != 1 {
		t.Errorf("List called fn %d times after it returned an error", calls)
	}
}

// testModTime checks modification times where the backend reports them:
// plausible, and the same in Stat and List.
func (s *suite) testModTime(t *testing.T) {
	be := s.open(t)
	ctx := context.Background()
	before := time.Now()
	h := saveRandom(t, be, backend.IndexFile, []byte("index"))
	fi, err := be.Stat(ctx, h)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	l := list(t, be, backend.IndexFile)[h.Name]
	if fi.ModTime.IsZero() != l.ModTime.IsZero() {
		t.Errorf("ModTime known in only one of Stat (%v) and List (%v)", fi.ModTime, l.ModTime)
	}
	if fi.ModTime.IsZero() {
		t.Logf("backend reports no modification times")
		return
	}
	// Allow for clock differences with a server and coarse timestamps.
	if d := fi.ModTime.Sub(before); d < -time.Hour || d > time.Hour {
		t.Errorf("ModTime %v is implausible (saved at about %v)", fi.ModTime, before)
	}
	if !l.ModTime.IsZero() && !l.ModTime.Equal(fi.ModTime) {
		if d := l.ModTime.Sub(fi.ModTime); d < -time.Second || d > time.Second {
			t.Errorf("List ModTime %v differs from Stat ModTime %v", l.ModTime, fi.ModTime)
		}
	}
	remove(t, be, h)
}

// testConcurrent saves, loads, stats and lists from several goroutines.
func (s *suite) testConcurrent(t *testing.T) {
	be := s.open(t)
	ctx := context.Background()
	r := newRand(t)
	const workers, perWorker = 8, 12
	var files [workers][][]byte
	for w := range files {
		for i := 0; i < perWorker; i++ {
			files[w] = append(files[w], randomBytes(r, r.IntN(64<<10)+1))
		}
	}
	// Every worker also saves one shared file with identical content.
	shared := randomBytes(r, 4096)
	sharedH := backend.Handle{Type: backend.PackFile, Name: idOf(shared)}

	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker*4)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			if err := be.Save(ctx, sharedH, backend.NewByteReader(shared)); err != nil && be.Properties().HasAtomicReplace {
				errs <- fmt.Errorf("Save(shared): %w", err)
			}
			for _, data := range files[w] {
				h := backend.Handle{Type: backend.PackFile, Name: idOf(data)}
				if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
					errs <- fmt.Errorf("Save(%v): %w", h, err)
					continue
				}
				got, err := load(ctx, be, h, 0, 0)
				if err != nil {
					errs <- fmt.Errorf("Load(%v): %w", h, err)
				} else if !bytes.Equal(got, data) {
					errs <- fmt.Errorf("Load(%v): wrong data", h)
				}
				if _, err := be.Stat(ctx, h); err != nil {
					errs <- fmt.Errorf("Stat(%v): %w", h, err)
				}
				if err := be.List(ctx, backend.PackFile, func(backend.FileInfo) error { return nil }); err != nil {
					errs <- fmt.Errorf("List: %w", err)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	got := list(t, be, backend.PackFile)
	want := []string{sharedH.Name}
	for w := range files {
		for _, data := range files[w] {
			want = append(want, idOf(data))
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	if len(got) != len(want) {
		t.Errorf("List after concurrent saves: %d files, want %d", len(got), len(want))
	}
	if b := mustLoad(t, be, sharedH, 0, 0); !bytes.Equal(b, shared) {
		t.Errorf("shared file has wrong content")
	}

	// Remove concurrently.
	var rwg sync.WaitGroup
	rerrs := make(chan error, len(want))
	for _, name := range want {
		rwg.Add(1)
		go func(name string) {
			defer rwg.Done()
			if err := be.Remove(ctx, backend.Handle{Type: backend.PackFile, Name: name}); err != nil {
				rerrs <- err
			}
		}(name)
	}
	rwg.Wait()
	close(rerrs)
	for err := range rerrs {
		t.Errorf("Remove: %v", err)
	}
	if got := list(t, be, backend.PackFile); len(got) != 0 {
		t.Errorf("List after removing everything: %d files", len(got))
	}
}

// RemoveAll deletes every file of every type from be, for tests that leave
// a repository on a shared server behind. Failures are reported with
// t.Errorf.
func RemoveAll(t testing.TB, be backend.Backend) {
	t.Helper()
	ctx := context.Background()
	for _, tpe := range append(slices.Clone(allTypes), backend.ConfigFile) {
		err := be.List(ctx, tpe, func(fi backend.FileInfo) error {
			return be.Remove(ctx, backend.Handle{Type: tpe, Name: fi.Name})
		})
		if err != nil {
			t.Errorf("removing all %v files: %v", tpe, err)
		}
	}
}

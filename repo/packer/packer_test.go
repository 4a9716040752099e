package packer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/pack"
	"github.com/klauspost/compress/zstd"
)

type testBlob struct {
	id    model.ID
	plain []byte
	ulen  int
}

func sealBlob(t testing.TB, c *crypto.Cipher, enc *zstd.Encoder, plain []byte, compress bool) (testBlob, []byte) {
	t.Helper()
	tb := testBlob{id: sha256.Sum256(plain), plain: plain}
	data := plain
	if compress {
		data = enc.EncodeAll(plain, nil)
		tb.ulen = len(plain)
	}
	return tb, c.Seal(nil, data)
}

// newPacker starts a pack in a fresh temporary directory of the test.
func newPacker(t testing.TB, typ model.BlobType) *Packer {
	t.Helper()
	p, err := New(typ, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// fileOf reads a finished pack through its Reader.
func fileOf(t testing.TB, p *Packer) []byte {
	t.Helper()
	buf, err := io.ReadAll(p.Reader())
	if err != nil {
		t.Fatal(err)
	}
	return buf
}

func mustAdd(t testing.TB, p *Packer, id model.ID, sealed []byte, ulen int) int {
	t.Helper()
	n, err := p.Add(id, sealed, ulen)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestPackerRoundTrip(t *testing.T) {
	key := crypto.NewRandomKey()
	c := key.Cipher()
	enc, _ := zstd.NewWriter(nil)
	dec, _ := zstd.NewReader(nil)
	rng := rand.New(rand.NewPCG(1, 2))

	for _, typ := range []model.BlobType{model.DataBlob, model.TreeBlob} {
		p := newPacker(t, typ)
		var want []testBlob
		sizes := []int{0, 1, 100, 4096, 70000, 1 << 20}
		for i, n := range sizes {
			tb, sealed := sealBlob(t, c, enc, randBytes(rng, n), i%2 == 1 && n > 0)
			added := mustAdd(t, p, tb.id, sealed, tb.ulen)
			if added != len(sealed)+EntrySize(tb.ulen != 0) {
				t.Fatalf("Add returned %d for %d sealed bytes", added, len(sealed))
			}
			want = append(want, tb)
		}
		if p.Count() != len(sizes) {
			t.Fatalf("Count = %d", p.Count())
		}
		dataSize := p.Size()
		pk, err := p.Finalize(c, true)
		if err != nil {
			t.Fatal(err)
		}
		data := fileOf(t, p)
		if int64(len(data)) != pk.Size || pk.ID != sha256.Sum256(data) {
			t.Fatal("pack ID is not the hash of its data")
		}
		if got := pack.HeaderSize(pk.Blobs); got != pk.HeaderSize || dataSize+got != len(data) {
			t.Fatalf("header size %d, pack.HeaderSize %d, data %d, total %d", pk.HeaderSize, got, dataSize, len(data))
		}
		// parse the pack as a reader would: length field, sealed header, blobs
		hlen, err := pack.HeaderLength(data, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if int(binary.LittleEndian.Uint32(data[len(data)-4:])) != hlen {
			t.Fatal("header length field")
		}
		hdr := data[len(data)-4-hlen : len(data)-4]
		blobs, err := pack.ParseHeader(key.Cipher(), hdr)
		if err != nil {
			t.Fatal(err)
		}
		if len(blobs) != len(want) {
			t.Fatalf("header lists %d blobs, want %d", len(blobs), len(want))
		}
		for i, b := range blobs {
			if b != pk.Blobs[i] || b.Type != typ || b.ID != want[i].id || int(b.UncompressedLength) != want[i].ulen {
				t.Fatalf("blob %d: header %+v, packer %+v", i, b, pk.Blobs[i])
			}
			stored := append([]byte(nil), data[b.Offset:b.Offset+b.Length]...)
			plain, err := pack.DecodeBlob(key.Cipher(), dec, model.PackedBlob{Blob: b}, stored, nil)
			if err != nil {
				t.Fatalf("blob %d: %v", i, err)
			}
			if !bytes.Equal(plain, want[i].plain) {
				t.Fatalf("blob %d content differs", i)
			}
		}
		if _, err := p.Finalize(c, true); err == nil {
			t.Fatal("second Finalize succeeded")
		}
	}
	if _, err := newPacker(t, model.DataBlob).Finalize(c, true); err == nil {
		t.Fatal("empty pack finalized")
	}
}

func TestPackerMerge(t *testing.T) {
	key := crypto.NewRandomKey()
	c := key.Cipher()
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := newPacker(t, model.TreeBlob), newPacker(t, model.TreeBlob)
	var bdata []byte
	var want []testBlob
	for i := range 10 {
		n := 100 + i*37
		if i == 9 {
			n = 3*readBuffer + 1000 // merged in several pieces
		}
		tb, sealed := sealBlob(t, c, nil, randBytes(rng, n), false)
		if i < 4 {
			mustAdd(t, a, tb.id, sealed, 0)
			want = append(want, tb)
		} else {
			mustAdd(t, b, tb.id, sealed, 0)
			bdata = append(bdata, sealed...)
		}
	}
	// the blobs of b in order
	bl := append([]model.Blob(nil), b.Blobs()...)
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if a.Count() != 10 || b.Count() != 0 {
		t.Fatalf("counts after merge: %d, %d", a.Count(), b.Count())
	}
	pk, err := a.Finalize(c, true)
	if err != nil {
		t.Fatal(err)
	}
	data := fileOf(t, a)
	if pk.ID != sha256.Sum256(data) || pk.Size != int64(len(data)) {
		t.Fatal("merged pack's ID is not the hash of its data")
	}
	for i, blob := range pk.Blobs[4:] {
		orig := bl[i]
		if blob.ID != orig.ID || blob.Length != orig.Length {
			t.Fatalf("merged blob %d: %+v, want %+v", i, blob, orig)
		}
		if !bytes.Equal(data[blob.Offset:blob.Offset+blob.Length], bdata[orig.Offset:orig.Offset+orig.Length]) {
			t.Fatalf("merged blob %d: bytes moved wrongly", i)
		}
		if _, err := key.Open(nil, data[blob.Offset:blob.Offset+blob.Length]); err != nil {
			t.Fatalf("merged blob %d: %v", i, err)
		}
	}
	for i, tb := range want {
		if pk.Blobs[i].ID != tb.id {
			t.Fatalf("blob %d of the first pack moved", i)
		}
	}
}

// TestManagerSpreadsBlobs checks the fingerprinting mitigation: blobs added
// in order do not land in packs in that order.
func TestManagerSpreadsBlobs(t *testing.T) {
	c := crypto.NewRandomKey().Cipher()
	m := NewManager(model.DataBlob, 20000, 0, DefaultOpenPacks, t.TempDir())
	var packs [][]model.Blob
	handoff := func(p *Packer) error {
		packs = append(packs, append([]model.Blob(nil), p.Blobs()...))
		return nil
	}
	order := map[model.ID]int{}
	for i := range 200 {
		var buf [8]byte
		binary.LittleEndian.PutUint64(buf[:], uint64(i))
		tb, sealed := sealBlob(t, c, nil, bytes.Repeat(buf[:], 128), false)
		order[tb.id] = i
		if _, err := m.Add(tb.id, sealed, 0, handoff); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range mustFlush(t, m) {
		packs = append(packs, p.Blobs())
	}
	seen := 0
	gaps := 0
	for _, p := range packs {
		for j, b := range p {
			seen++
			if j > 0 && order[b.ID] != order[p[j-1].ID]+1 {
				gaps++
			}
		}
		if size := packSize(p); size > 20000+1100 {
			t.Fatalf("pack of %d bytes exceeds target plus one blob", size)
		}
	}
	if seen != 200 {
		t.Fatalf("packs hold %d blobs, want 200", seen)
	}
	if gaps < 20 {
		t.Fatalf("only %d of 200 blobs are out of sequence: packs are not randomised", gaps)
	}
}

func packSize(blobs []model.Blob) int {
	n := 0
	for _, b := range blobs {
		n += int(b.Length)
	}
	return n
}

func TestManagerOversizedAndFlushMerge(t *testing.T) {
	c := crypto.NewRandomKey().Cipher()
	m := NewManager(model.DataBlob, 10000, 0, 4, t.TempDir())
	var handed []*Packer
	handoff := func(p *Packer) error { handed = append(handed, p); return nil }
	rng := rand.New(rand.NewPCG(5, 6))
	// small blobs spread over the open packs, none full
	for range 8 {
		tb, sealed := sealBlob(t, c, nil, randBytes(rng, 300), false)
		if _, err := m.Add(tb.id, sealed, 0, handoff); err != nil {
			t.Fatal(err)
		}
	}
	if len(handed) != 0 {
		t.Fatalf("%d packs handed off early", len(handed))
	}
	tb, sealed := sealBlob(t, c, nil, randBytes(rng, 12000), false)
	n, err := m.Add(tb.id, sealed, 0, handoff)
	if err != nil {
		t.Fatal(err)
	}
	if len(handed) != 1 || handed[0].Count() != 1 || handed[0].Blobs()[0].ID != tb.id {
		t.Fatalf("oversized blob did not get a pack of its own: %d packs", len(handed))
	}
	if n != len(sealed)+pack.PlainEntrySize+pack.HeaderOverhead {
		t.Fatalf("size %d for a blob completing a pack", n)
	}
	out := mustFlush(t, m)
	if len(out) != 1 || out[0].Count() != 8 {
		t.Fatalf("flush: %d packs, want the 8 small blobs merged into one", len(out))
	}
	if len(mustFlush(t, m)) != 0 {
		t.Fatal("second flush returned packs")
	}
}

func TestManagerHandoffFailureKeepsPack(t *testing.T) {
	c := crypto.NewRandomKey().Cipher()
	m := NewManager(model.TreeBlob, 1000, 0, 1, t.TempDir())
	fail := errors.New("no slot")
	rng := rand.New(rand.NewPCG(7, 8))
	tb, sealed := sealBlob(t, c, nil, randBytes(rng, 2000), false)
	if _, err := m.Add(tb.id, sealed, 0, func(*Packer) error { return fail }); !errors.Is(err, fail) {
		t.Fatalf("err = %v", err)
	}
	tb2, sealed2 := sealBlob(t, c, nil, randBytes(rng, 500), false)
	if _, err := m.Add(tb2.id, sealed2, 0, func(*Packer) error { return fail }); !errors.Is(err, fail) {
		t.Fatalf("err = %v", err)
	}
	out := mustFlush(t, m)
	total := 0
	for _, p := range out {
		total += p.Count()
	}
	if total != 2 {
		t.Fatalf("flush returned %d blobs, want both", total)
	}
}

func TestManagerConcurrent(t *testing.T) {
	c := crypto.NewRandomKey().Cipher()
	m := NewManager(model.DataBlob, 50000, 0, DefaultOpenPacks, t.TempDir())
	var mu sync.Mutex
	got := map[model.ID]int{}
	handoff := func(p *Packer) error {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range p.Blobs() {
			got[b.ID]++
		}
		return nil
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for range 100 {
				tb, sealed := sealBlob(t, c, nil, randBytes(rng, 1000), false)
				if _, err := m.Add(tb.id, sealed, 0, handoff); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for _, p := range mustFlush(t, m) {
		_ = handoff(p)
	}
	if len(got) != 400 {
		t.Fatalf("%d distinct blobs packed, want 400", len(got))
	}
	for id, n := range got {
		if n != 1 {
			t.Fatalf("blob %v packed %d times", id.Str(), n)
		}
	}
}

// TestManagerCloseWhileAdding: Close may come while Adds are writing
// (a writer that fails stops its savers this way). Every Add then either
// stored its blob or failed with ErrClosed, no pack file is written after
// it was closed, and no temporary file is left behind.
func TestManagerCloseWhileAdding(t *testing.T) {
	c := crypto.NewRandomKey().Cipher()
	dir := t.TempDir()
	// blobs larger than the pack's write buffer go to its file at once
	m := NewManager(model.DataBlob, 1<<20, 0, DefaultOpenPacks, dir)
	var handedOff sync.WaitGroup
	handoff := func(p *Packer) error {
		handedOff.Go(func() { p.Close() })
		return nil
	}
	var wg sync.WaitGroup
	var stored, closed atomic.Int64
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 11))
			for range 50 {
				tb, sealed := sealBlob(t, c, nil, randBytes(rng, 2*writeBuffer), false)
				_, err := m.Add(tb.id, sealed, 0, handoff)
				switch {
				case err == nil:
					stored.Add(1)
				case errors.Is(err, ErrClosed):
					closed.Add(1)
				default:
					t.Errorf("Add: %v", err)
					return
				}
			}
		})
	}
	for stored.Load() < 20 {
		runtime.Gosched()
	}
	m.Close()
	wg.Wait()
	handedOff.Wait()
	if closed.Load() == 0 {
		t.Fatal("no Add failed after Close")
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("%d files left in the temporary directory", len(left))
	}
}

func mustFlush(t testing.TB, m *Manager) []*Packer {
	t.Helper()
	out, err := m.Flush()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestManagerClose: Close releases the open packs' temporary files, and
// later Adds fail instead of opening new ones.
func TestManagerClose(t *testing.T) {
	c := crypto.NewRandomKey().Cipher()
	dir := t.TempDir()
	m := NewManager(model.DataBlob, 1<<20, 0, DefaultOpenPacks, dir)
	rng := rand.New(rand.NewPCG(9, 9))
	var open []*Packer
	for range 10 {
		tb, sealed := sealBlob(t, c, nil, randBytes(rng, 500), false)
		if _, err := m.Add(tb.id, sealed, 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range m.open {
		if p != nil {
			open = append(open, p)
		}
	}
	if len(open) == 0 {
		t.Fatal("no open pack")
	}
	m.Close()
	for _, p := range open {
		if p.f != nil {
			t.Fatal("Close left a pack's file open")
		}
	}
	tb, sealed := sealBlob(t, c, nil, randBytes(rng, 500), false)
	if _, err := m.Add(tb.id, sealed, 0, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("%d files left in the temporary directory", len(left))
	}
}

// TestPackerTempFile: the pack's file is in the given directory (unnamed,
// or named with TempPrefix), not listed there, and gone after Close; a file
// that cannot be created is an error.
func TestPackerTempFile(t *testing.T) {
	dir := t.TempDir()
	p, err := New(model.DataBlob, dir)
	if err != nil {
		t.Fatal(err)
	}
	unnamed := p.linkable && p.f.Name() == dir
	named := !p.linkable && strings.HasPrefix(filepath.Base(p.f.Name()), TempPrefix) && filepath.Dir(p.f.Name()) == dir
	if !unnamed && !named {
		t.Fatalf("temporary file %s (linkable %v)", p.f.Name(), p.linkable)
	}
	if runtime.GOOS == "linux" && !p.linkable {
		t.Logf("no unnamed temporary files in %s", dir)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("%d files listed while the pack is open", len(left))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("%d files left after Close", len(left))
	}
	if _, err := New(model.DataBlob, filepath.Join(dir, "missing")); err == nil {
		t.Fatal("New in a missing directory succeeded")
	}
}

// TestPackerHashAsWritten: the pack is named by the hash of the bytes
// handed to its file; reading the file back, in small and large pieces,
// through Read and through WriteTo, gives bytes with exactly that hash.
func TestPackerHashAsWritten(t *testing.T) {
	c := crypto.NewRandomKey().Cipher()
	rng := rand.New(rand.NewPCG(8, 9))
	p := newPacker(t, model.DataBlob)
	var blobs []byte
	for _, n := range []int{5000, 300000, 70000, 10} {
		tb, sealed := sealBlob(t, c, nil, randBytes(rng, n), false)
		mustAdd(t, p, tb.id, sealed, 0)
		blobs = append(blobs, sealed...)
	}
	pk, err := p.Finalize(c, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, piece := range []int{1000, 1 << 20} {
		r := p.Reader()
		var got []byte
		buf := make([]byte, piece)
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("piece %d: %v", piece, err)
			}
		}
		if sha256.Sum256(got) != pk.ID || int64(len(got)) != pk.Size || !bytes.Equal(got[:len(blobs)], blobs) {
			t.Fatalf("piece %d: read %d bytes that do not hash to the ID", piece, len(got))
		}
	}
	var sink bytes.Buffer
	if _, err := p.Reader().WriteTo(&sink); err != nil || sha256.Sum256(sink.Bytes()) != pk.ID {
		t.Fatalf("WriteTo: %v", err)
	}
	// CopyTo, from the start and after a partial Read
	for _, skip := range []int{0, 777} {
		dst, err := os.CreateTemp(t.TempDir(), "copy")
		if err != nil {
			t.Fatal(err)
		}
		r := p.Reader()
		head := make([]byte, skip)
		if _, err := io.ReadFull(r, head); err != nil {
			t.Fatal(err)
		}
		calls := 0
		n, err := r.CopyTo(dst, func() error { calls++; return nil })
		dst.Close()
		got, _ := os.ReadFile(dst.Name())
		got = append(head, got...)
		if err != nil || n != pk.Size-int64(skip) || sha256.Sum256(got) != pk.ID || calls != int((n+copyPiece-1)/copyPiece) {
			t.Fatalf("CopyTo after %d bytes: %d bytes, %d progress calls, %v", skip, n, calls, err)
		}
	}
	stop := errors.New("stop")
	if _, err := p.Reader().CopyTo(mustTemp(t), func() error { return stop }); err != stop {
		t.Fatalf("CopyTo with failing progress: %v", err)
	}
	// a failed write leaves the pack unusable instead of misnamed
	q := newPacker(t, model.DataBlob)
	tb, sealed := sealBlob(t, c, nil, randBytes(rng, writeBuffer+1), false)
	q.f.Close() // the next write to the file fails
	if _, err := q.Add(tb.id, sealed, 0); err == nil {
		t.Fatal("Add to a closed file succeeded")
	}
	if _, err := q.Finalize(c, true); err == nil {
		t.Fatal("Finalize after a failed write succeeded")
	}
}

func mustTemp(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "tmp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestReaderLinkTo: a finished pack in an unnamed file gets a name on its
// file system without being copied: the name holds exactly the pack (its
// hash is the ID), and the pack stays readable. A name that exists, or a
// directory on another file system, is refused with false (the backend
// copies), never with a half-done link.
func TestReaderLinkTo(t *testing.T) {
	dir := t.TempDir()
	p, err := New(model.DataBlob, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if !p.linkable {
		t.Skipf("%s cannot hold unnamed files on this system", dir)
	}
	c := crypto.NewRandomKey().Cipher()
	rng := rand.New(rand.NewPCG(10, 11))
	for _, n := range []int{4000, 200000} {
		tb, sealed := sealBlob(t, c, nil, randBytes(rng, n), false)
		mustAdd(t, p, tb.id, sealed, 0)
	}
	pk, err := p.Finalize(c, true)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "pack")
	if ok, err := p.Reader().LinkTo(name); !ok || err != nil {
		t.Fatalf("LinkTo: %v, %v", ok, err)
	}
	got, err := os.ReadFile(name)
	if err != nil || sha256.Sum256(got) != pk.ID || int64(len(got)) != pk.Size {
		t.Fatalf("linked file: %d bytes, %v", len(got), err)
	}
	// the linked name is the pack's own file, not a copy
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	own, err := p.f.Stat()
	if err != nil || !os.SameFile(fi, own) {
		t.Fatalf("linked name is not the pack's file (%v)", err)
	}
	if ok, err := p.Reader().LinkTo(name); ok || err != nil {
		t.Fatalf("LinkTo an existing name: %v, %v", ok, err)
	}
	if _, err := io.ReadAll(p.Reader()); err != nil {
		t.Fatalf("read after link: %v", err)
	}
	// a directory on another file system (a tmpfs), where there is one
	if other := otherFileSystem(t, dir); other != "" {
		if ok, err := p.Reader().LinkTo(filepath.Join(other, "pack")); ok || err != nil {
			t.Fatalf("LinkTo another file system: %v, %v", ok, err)
		}
	}
	// a named temporary file cannot be linked
	q := newPacker(t, model.DataBlob)
	q.linkable = false
	tb, sealed := sealBlob(t, c, nil, randBytes(rng, 100), false)
	mustAdd(t, q, tb.id, sealed, 0)
	if _, err := q.Finalize(c, true); err != nil {
		t.Fatal(err)
	}
	if ok, err := q.Reader().LinkTo(filepath.Join(dir, "other")); ok || err != nil {
		t.Fatalf("LinkTo of a named temporary file: %v, %v", ok, err)
	}
}

// otherFileSystem returns a fresh directory on a file system other than
// dir's (under /dev/shm), or "" when there is none.
func otherFileSystem(t *testing.T, dir string) string {
	t.Helper()
	shm, err := os.MkdirTemp("/dev/shm", "arca-packer-test-")
	if err != nil {
		return ""
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	a, errA := os.Stat(dir)
	b, errB := os.Stat(shm)
	if errA != nil || errB != nil || sameDevice(a, b) {
		return ""
	}
	return shm
}

// TestPackerWriteBehind: a write-behind pack asks for the disk writes of
// its file in order, in steps of at least writeBehindStep, covering only
// bytes that have left the write buffer; a pack without write-behind
// never asks. Through a Manager, WriteBehind reaches every pack.
func TestPackerWriteBehind(t *testing.T) {
	type span struct{ off, n int64 }
	rng := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct{ behind, large bool }{{false, true}, {true, false}, {true, true}} {
		behind := c.behind
		p, err := New(model.DataBlob, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if behind {
			p.WriteBehind()
		}
		var spans []span
		p.startWrite = func(f *os.File, off, n int64) {
			if f != p.f {
				t.Errorf("write-behind on another file")
			}
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if off+n > fi.Size() {
				t.Errorf("write-behind of [%d, %d) with only %d bytes in the file", off, off+n, fi.Size())
			}
			spans = append(spans, span{off, n})
		}
		// small blobs gather in the buffer, large ones pass it
		for p.Size() < 20<<20 {
			n := 1 + rng.IntN(4<<10)
			if c.large && rng.IntN(8) == 0 {
				n = 1 << 20
			}
			if _, err := p.Add(model.ID{byte(p.Count())}, make([]byte, n), 0); err != nil {
				t.Fatal(err)
			}
		}
		if !behind {
			if len(spans) != 0 {
				t.Errorf("without write-behind: %d requests", len(spans))
			}
			p.Close()
			continue
		}
		var next int64
		for _, s := range spans {
			if s.off != next || s.n < writeBehindStep {
				t.Errorf("request [%d, %d) after [0, %d): want the next %d bytes or more", s.off, s.off+s.n, next, writeBehindStep)
			}
			next = s.off + s.n
		}
		if int64(p.Size())-next > writeBehindStep+writeBuffer {
			t.Errorf("requests cover %d of %d bytes", next, p.Size())
		}
		p.Close()
	}

	m := NewManager(model.DataBlob, 1<<20, 0, DefaultOpenPacks, t.TempDir())
	m.WriteBehind = true
	var got []bool
	handoff := func(p *Packer) error {
		got = append(got, p.writeBehind)
		return p.Close()
	}
	for i := range 8 {
		if _, err := m.Add(model.ID{byte(i)}, make([]byte, 600<<10), 0, handoff); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Add(model.ID{99}, make([]byte, 2<<20), 0, handoff); err != nil { // a pack of its own
		t.Fatal(err)
	}
	m.Close()
	if len(got) < 2 || slices.Contains(got, false) {
		t.Errorf("manager with WriteBehind handed off packs with write-behind %v, want all true", got)
	}
}

package packer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
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
		p := New(typ, nil)
		var want []testBlob
		sizes := []int{0, 1, 100, 4096, 70000, 1 << 20}
		for i, n := range sizes {
			tb, sealed := sealBlob(t, c, enc, randBytes(rng, n), i%2 == 1 && n > 0)
			added := p.Add(tb.id, sealed, tb.ulen)
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
		if pk.ID != sha256.Sum256(pk.Data) {
			t.Fatal("pack ID is not the hash of its data")
		}
		if got := pack.HeaderSize(pk.Blobs); got != pk.HeaderSize || dataSize+got != len(pk.Data) {
			t.Fatalf("header size %d, pack.HeaderSize %d, data %d, total %d", pk.HeaderSize, got, dataSize, len(pk.Data))
		}
		// parse the pack as a reader would: length field, sealed header, blobs
		hlen, err := pack.HeaderLength(pk.Data, int64(len(pk.Data)))
		if err != nil {
			t.Fatal(err)
		}
		if int(binary.LittleEndian.Uint32(pk.Data[len(pk.Data)-4:])) != hlen {
			t.Fatal("header length field")
		}
		hdr := pk.Data[len(pk.Data)-4-hlen : len(pk.Data)-4]
		blobs, err := pack.ParseHeader(key, hdr)
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
			stored := append([]byte(nil), pk.Data[b.Offset:b.Offset+b.Length]...)
			plain, err := pack.DecodeBlob(key, dec, b, stored, nil)
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
	if _, err := New(model.DataBlob, nil).Finalize(c, true); err == nil {
		t.Fatal("empty pack finalized")
	}
}

func TestPackerMerge(t *testing.T) {
	key := crypto.NewRandomKey()
	c := key.Cipher()
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := New(model.TreeBlob, nil), New(model.TreeBlob, nil)
	var want []testBlob
	for i := range 10 {
		tb, sealed := sealBlob(t, c, nil, randBytes(rng, 100+i*37), false)
		if i < 4 {
			a.Add(tb.id, sealed, 0)
			want = append(want, tb)
		} else {
			b.Add(tb.id, sealed, 0)
		}
	}
	// the blobs of b in order
	bl := append([]model.Blob(nil), b.Blobs()...)
	bdata := append([]byte(nil), b.buf...)
	a.Merge(b)
	if a.Count() != 10 || b.Count() != 0 {
		t.Fatalf("counts after merge: %d, %d", a.Count(), b.Count())
	}
	pk, err := a.Finalize(c, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, blob := range pk.Blobs[4:] {
		orig := bl[i]
		if blob.ID != orig.ID || blob.Length != orig.Length {
			t.Fatalf("merged blob %d: %+v, want %+v", i, blob, orig)
		}
		if !bytes.Equal(pk.Data[blob.Offset:blob.Offset+blob.Length], bdata[orig.Offset:orig.Offset+orig.Length]) {
			t.Fatalf("merged blob %d: bytes moved wrongly", i)
		}
		if _, err := key.Open(nil, pk.Data[blob.Offset:blob.Offset+blob.Length]); err != nil {
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
	pool := NewPool(1<<16, 8)
	m := NewManager(model.DataBlob, 20000, 0, DefaultOpenPacks, pool)
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
	for _, p := range m.Flush() {
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
	pool := NewPool(1<<16, 8)
	m := NewManager(model.DataBlob, 10000, 0, 4, pool)
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
	out := m.Flush()
	if len(out) != 1 || out[0].Count() != 8 {
		t.Fatalf("flush: %d packs, want the 8 small blobs merged into one", len(out))
	}
	if len(m.Flush()) != 0 {
		t.Fatal("second flush returned packs")
	}
}

func TestManagerHandoffFailureKeepsPack(t *testing.T) {
	c := crypto.NewRandomKey().Cipher()
	m := NewManager(model.TreeBlob, 1000, 0, 1, NewPool(0, 0))
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
	out := m.Flush()
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
	m := NewManager(model.DataBlob, 50000, 0, DefaultOpenPacks, NewPool(1<<16, 4))
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
	for _, p := range m.Flush() {
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

func TestPool(t *testing.T) {
	p := NewPool(100, 1)
	a := p.Get()
	if len(a) != 0 || cap(a) != 100 {
		t.Fatalf("new buffer len %d cap %d", len(a), cap(a))
	}
	a = append(a, 1, 2, 3)
	p.Put(a)
	p.Put(make([]byte, 5, 200)) // dropped: pool keeps one
	b := p.Get()
	if len(b) != 0 || cap(b) != 100 || &b[:1][0] != &a[0] {
		t.Fatal("buffer not recycled")
	}
	p.Put(b)
	p.Drain()
	if c := p.Get(); cap(c) != 100 || &c[:1][0] == &a[0] {
		t.Fatal("Drain kept the buffer")
	}
}

package index

import (
	"encoding/binary"
	"encoding/json"
	"math"
	mrand "math/rand"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/arca-backup/arca/repo/model"
)

func randomID(r *rand.Rand) model.ID {
	var id model.ID
	for i := 0; i < len(id); i += 8 {
		binary.LittleEndian.PutUint64(id[i:], r.Uint64())
	}
	return id
}

func TestIndexLookupMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	idx := New()
	want := map[model.BlobHandle][]model.PackedBlob{}
	for p := 0; p < 300; p++ {
		pack := randomID(r)
		var blobs []model.Blob
		off := uint(0)
		for b := 0; b < 1+r.IntN(50); b++ {
			typ := model.DataBlob
			if r.IntN(4) == 0 {
				typ = model.TreeBlob
			}
			bl := model.Blob{BlobHandle: model.BlobHandle{ID: randomID(r), Type: typ}, Offset: off, Length: uint(33 + r.IntN(1000))}
			if r.IntN(2) == 0 {
				bl.UncompressedLength = bl.Length * 3
			}
			off += bl.Length
			blobs = append(blobs, bl)
			want[bl.BlobHandle] = append(want[bl.BlobHandle], model.PackedBlob{Blob: bl, PackID: pack})
		}
		// the same blob stored again in another pack
		if p > 0 && p%10 == 0 {
			for h, pbs := range want {
				dup := pbs[0].Blob
				dup.Offset = off
				blobs = append(blobs, dup)
				want[h] = append(want[h], model.PackedBlob{Blob: dup, PackID: pack})
				break
			}
		}
		idx.AddPack(pack, blobs)
	}
	// loading the same pack twice must not duplicate entries
	for h, pbs := range want {
		idx.Add(pbs[0].PackID, pbs[0].Blob)
		_ = h
		break
	}
	n := 0
	for h, pbs := range want {
		n += len(pbs)
		got := idx.Lookup(h)
		if len(got) != len(pbs) {
			t.Fatalf("%v: got %d copies, want %d", h, len(got), len(pbs))
		}
		for _, w := range pbs {
			found := false
			for _, g := range got {
				if g == w {
					found = true
				}
			}
			if !found {
				t.Fatalf("%v: copy %+v missing from %+v", h, w, got)
			}
		}
		if !idx.Has(h) {
			t.Fatalf("Has(%v) = false", h)
		}
		other := h
		if other.Type == model.DataBlob {
			other.Type = model.TreeBlob
		} else {
			other.Type = model.DataBlob
		}
		if _, dup := want[other]; !dup && idx.Has(other) {
			t.Fatalf("Has(%v) = true for the wrong type", other)
		}
	}
	if idx.Len() != n {
		t.Fatalf("Len = %d, want %d", idx.Len(), n)
	}
	for i := 0; i < 1000; i++ {
		h := model.BlobHandle{ID: randomID(r), Type: model.DataBlob}
		if idx.Has(h) || len(idx.Lookup(h)) != 0 {
			t.Fatalf("random ID %v found", h)
		}
	}
	count := 0
	idx.Each(func(model.PackedBlob) bool { count++; return true })
	if count != n {
		t.Fatalf("Each visited %d, want %d", count, n)
	}
	if got := len(idx.Packs()); got != 300 {
		t.Fatalf("Packs = %d, want 300", got)
	}
}

func TestIndexFileRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	f := &File{}
	for p := 0; p < 5; p++ {
		pj := PackJSON{ID: randomID(r)}
		for b := 0; b < 3; b++ {
			bj := BlobJSON{ID: randomID(r), Type: model.DataBlob, Offset: uint(b * 100), Length: 100}
			if b == 1 {
				bj.UncompressedLength = 300
				bj.Type = model.TreeBlob
			}
			pj.Blobs = append(pj.Blobs, bj)
		}
		f.Packs = append(f.Packs, pj)
	}
	buf, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	g, err := DecodeFile(buf)
	if err != nil {
		t.Fatal(err)
	}
	buf2, _ := g.Encode()
	if string(buf) != string(buf2) {
		t.Fatalf("round trip changed the JSON:\n%s\n%s", buf, buf2)
	}
	if want := `"uncompressed_length":300`; !contains(string(buf), want) {
		t.Fatalf("encoded index lacks %s: %s", want, buf)
	}
	if contains(string(buf), `"uncompressed_length":0`) {
		t.Fatalf("uncompressed_length must be omitted for plain blobs: %s", buf)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestDecodeFileRejectsBadInput(t *testing.T) {
	for _, in := range []string{
		``, `{`, `{"packs":[{"id":"zz","blobs":[]}]}`,
		`{"packs":[{"id":"` + model.ID{}.String() + `","blobs":[{"id":"` + model.ID{}.String() + `","type":"weird","offset":0,"length":1}]}]}`,
	} {
		if _, err := DecodeFile([]byte(in)); err == nil {
			t.Errorf("DecodeFile(%q) succeeded", in)
		}
	}
	old := `[{"id":"` + model.ID{1}.String() + `","blobs":[{"id":"` + model.ID{2}.String() + `","type":"data","offset":0,"length":40}]}]`
	f, err := DecodeFile([]byte(old))
	if err != nil || len(f.Packs) != 1 || f.Packs[0].Blobs[0].Length != 40 {
		t.Fatalf("old format: %v %+v", err, f)
	}
}

func FuzzDecodeFile(f *testing.F) {
	f.Add([]byte(`{"packs":[]}`))
	f.Add([]byte(`[{"id":"` + model.ID{1}.String() + `","blobs":[]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := DecodeFile(data)
		if err != nil {
			return
		}
		idx := New()
		file.AddTo(idx)
		if _, err := file.Encode(); err != nil {
			t.Fatalf("decoded index does not encode: %v", err)
		}
	})
}

// BenchmarkIndexMemory reports the index's memory per blob for 2 million
// blobs, measured from the heap, and the lookup rate.
func BenchmarkIndexMemory(b *testing.B) {
	const blobs = 2_000_000
	r := rand.New(rand.NewPCG(5, 6))
	ids := make([]model.ID, blobs)
	for i := range ids {
		ids[i] = randomID(r)
	}
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		idx := New()
		for p := 0; p < blobs/100; p++ {
			pack := randomID(r)
			list := make([]model.Blob, 100)
			for i := range list {
				list[i] = model.Blob{BlobHandle: model.BlobHandle{ID: ids[p*100+i], Type: model.DataBlob}, Length: 1 << 20}
			}
			idx.AddPack(pack, list)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/blobs, "heap-bytes/blob")
		b.ReportMetric(idx.MemoryPerBlob(), "est-bytes/blob")
		runtime.KeepAlive(idx)
	}
}

func BenchmarkIndexLookup(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	idx := New()
	ids := make([]model.ID, 1_000_000)
	for i := range ids {
		ids[i] = randomID(r)
		idx.Add(model.ID{byte(i % 7)}, model.Blob{BlobHandle: model.BlobHandle{ID: ids[i], Type: model.DataBlob}, Length: 100})
	}
	i := 0
	for b.Loop() {
		if !idx.Has(model.BlobHandle{ID: ids[i%len(ids)], Type: model.DataBlob}) {
			b.Fatal("missing")
		}
		i++
	}
}

// TestEncodeMatchesJSON: Encode writes exactly what encoding/json makes of
// the packs, for random index files and edge cases, and refuses a blob of
// an invalid type.
func TestEncodeMatchesJSON(t *testing.T) {
	viaJSON := func(f *File) string {
		b, err := json.Marshal(struct {
			Packs []PackJSON `json:"packs"`
		}{f.Packs})
		if err != nil {
			t.Fatal(err)
		}
		return string(b) + "\n"
	}
	rnd := mrand.New(mrand.NewSource(5))
	files := []*File{
		{},
		{Packs: []PackJSON{}},
		{Packs: []PackJSON{{}}},
		{Packs: []PackJSON{{Blobs: []BlobJSON{}}}},
		{Packs: []PackJSON{{Blobs: []BlobJSON{{Type: model.TreeBlob, Offset: math.MaxUint, Length: math.MaxUint32, UncompressedLength: math.MaxUint}}}}},
		{Supersedes: model.IDs{{1}}, Packs: []PackJSON{{Blobs: []BlobJSON{{Type: model.DataBlob}}}}},
		randomFile(rnd, 1, 1),
		randomFile(rnd, 30, 200),
	}
	for i, f := range files {
		got, err := f.Encode()
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		if want := viaJSON(f); string(got) != want {
			t.Fatalf("file %d:\n got %s\nwant %s", i, got, want)
		}
	}
	bad := randomFile(rnd, 3, 5)
	bad.Packs[2].Blobs[0].Type = model.BlobType(7)
	if _, err := bad.Encode(); err == nil || !strings.Contains(err.Error(), "invalid type 7") {
		t.Fatalf("invalid blob type: error %v", err)
	}
}

// PackDataEnd is where the last blob listed in a pack ends, whatever the
// order the blobs were added in.
func TestPackDataEnd(t *testing.T) {
	idx := New()
	p, q := model.Hash([]byte("p")), model.Hash([]byte("q"))
	blob := func(i byte, off, n uint) model.Blob {
		return model.Blob{BlobHandle: model.BlobHandle{ID: model.Hash([]byte{i}), Type: model.TreeBlob}, Offset: off, Length: n}
	}
	idx.Add(p, blob(1, 100, 50))
	idx.AddPack(q, []model.Blob{blob(2, 0, 10)})
	idx.Add(p, blob(3, 0, 100))
	if end, ok := idx.PackDataEnd(p); !ok || end != 150 {
		t.Errorf("pack p ends at %d (%v), want 150", end, ok)
	}
	if end, ok := idx.PackDataEnd(q); !ok || end != 10 {
		t.Errorf("pack q ends at %d (%v), want 10", end, ok)
	}
	if _, ok := idx.PackDataEnd(model.Hash([]byte("none"))); ok {
		t.Error("an unknown pack has an end")
	}
}

package index

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/arca-backup/arca/repo/model"
)

func randomFile(rnd *rand.Rand, packs, blobsPerPack int) *File {
	f := &File{}
	for range packs {
		var p PackJSON
		rnd.Read(p.ID[:])
		off := uint(0)
		for range 1 + rnd.Intn(blobsPerPack) {
			var b BlobJSON
			rnd.Read(b.ID[:])
			b.Type = model.DataBlob
			if rnd.Intn(4) == 0 {
				b.Type = model.TreeBlob
			}
			b.Offset, b.Length = off, uint(1+rnd.Intn(1<<22))
			if rnd.Intn(2) == 0 {
				b.UncompressedLength = b.Length + uint(rnd.Intn(1000))
			}
			off += b.Length
			p.Blobs = append(p.Blobs, b)
		}
		f.Packs = append(f.Packs, p)
	}
	return f
}

// jsonDecode is DecodeFile without the fast path.
func jsonDecode(data []byte) (*File, error) {
	var f File
	err := json.Unmarshal(data, &f)
	return &f, err
}

// TestDecodeFastMatchesJSON: on index files as restic and arca write them,
// indented, with supersedes, keys reordered and edge values, the fast
// decoder accepts and agrees with encoding/json.
func TestDecodeFastMatchesJSON(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	f := randomFile(rnd, 30, 50)
	compact, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	f.Supersedes = model.IDs{f.Packs[0].ID, f.Packs[1].ID}
	indented, err := json.MarshalIndent(f, " ", "\t")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("0123456789abcdef", 4)
	inputs := map[string]string{
		"compact":      string(compact),
		"indented":     string(indented) + "\r\n",
		"empty":        `{}`,
		"no packs":     `{"packs":[]}`,
		"no blobs":     `{"packs":[{"id":"` + id + `","blobs":[]}]}`,
		"reordered":    `{"packs":[{"blobs":[{"length":5,"uncompressed_length":0,"offset":0,"type":"tree","id":"` + id + `"}],"id":"` + id + `"}],"supersedes":[]}`,
		"max uint":     `{"packs":[{"id":"` + id + `","blobs":[{"id":"` + id + `","type":"data","offset":18446744073709551615,"length":0}]}]}`,
		"empty supers": `{"supersedes":[],"packs":[]}`,
	}
	for name, in := range inputs {
		got, err := decodeFastFile([]byte(in))
		if err != nil {
			t.Errorf("%s: fast decoder gave up: %v", name, err)
			continue
		}
		want, err := jsonDecode([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: fast %+v, json %+v", name, got, want)
		}
	}
}

// TestDecodeFastGivesUp: on input outside its shape, the fast decoder
// gives up rather than decode differently, and DecodeFile still answers as
// encoding/json does. Random byte mutations of a valid file check the same:
// whatever the fast decoder accepts, encoding/json decodes identically.
func TestDecodeFastGivesUp(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	blob := func(fields string) string { return `{"packs":[{"id":"` + id + `","blobs":[{` + fields + `}]}]}` }
	for name, in := range map[string]string{
		"upper key":    blob(`"ID":"` + id + `","type":"data","offset":1,"length":2`),
		"unknown key":  blob(`"id":"` + id + `","type":"data","offset":1,"length":2,"x":1`),
		"duplicate":    blob(`"id":"` + id + `","type":"data","offset":1,"offset":3,"length":2`),
		"missing type": blob(`"id":"` + id + `","offset":1,"length":2`),
		"upper hex":    blob(`"id":"` + strings.ToUpper(id) + `","type":"data","offset":1,"length":2`),
		"escape":       blob(`"id":"` + id + `","type":"d\u0061ta","offset":1,"length":2`),
		"negative":     blob(`"id":"` + id + `","type":"data","offset":-1,"length":2`),
		"exponent":     blob(`"id":"` + id + `","type":"data","offset":1e3,"length":2`),
		"leading zero": blob(`"id":"` + id + `","type":"data","offset":01,"length":2`),
		"overflow":     blob(`"id":"` + id + `","type":"data","offset":18446744073709551616,"length":2`),
		"null":         `{"packs":null}`,
		"trailing":     `{"packs":[]} x`,
		"bad type":     blob(`"id":"` + id + `","type":"blob","offset":1,"length":2`),
	} {
		if _, err := decodeFastFile([]byte(in)); err == nil {
			t.Errorf("%s: fast decoder accepted %s", name, in)
		}
		got, gotErr := DecodeFile([]byte(in))
		want, wantErr := jsonDecode([]byte(in))
		// DecodeFile also refuses blobs without a valid type
		if (gotErr != nil) != (wantErr != nil) && name != "missing type" {
			t.Errorf("%s: DecodeFile error %v, encoding/json %v", name, gotErr, wantErr)
		}
		if gotErr == nil && wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%s: DecodeFile %+v, encoding/json %+v", name, got, want)
		}
	}

	rnd := rand.New(rand.NewSource(2))
	valid, err := randomFile(rnd, 3, 4).Encode()
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = `{}[]":,0123456789abcdefxE-. \n"\`
	accepted := 0
	for i := range 20000 {
		in := []byte(string(valid))
		for range 1 + i%3 {
			in[rnd.Intn(len(in))] = alphabet[rnd.Intn(len(alphabet))]
		}
		got, err := decodeFastFile(in)
		if err != nil {
			continue
		}
		accepted++
		want, werr := jsonDecode(in)
		if werr != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("fast decoder accepted %q as %+v; encoding/json: %+v, %v", in, got, want, werr)
		}
	}
	if accepted == 0 {
		t.Fatal("no mutation was accepted; the test checks nothing")
	}
	t.Logf("%d of 20000 mutations accepted, all as encoding/json decodes them", accepted)
}

func BenchmarkDecodeFile(b *testing.B) {
	data, err := randomFile(rand.New(rand.NewSource(3)), 2000, 40).Encode()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		fn   func([]byte) (*File, error)
	}{{"fast", DecodeFile}, {"encoding-json", jsonDecode}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := c.fn(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// indexContents lists every record of idx as text, sorted.
func indexContents(idx *Index) []string {
	var out []string
	idx.Each(func(pb model.PackedBlob) bool {
		out = append(out, fmt.Sprintf("%v %v %d %d %d %v", pb.PackID, pb.BlobHandle, pb.Offset, pb.Length, pb.UncompressedLength, pb.Type))
		return true
	})
	sort.Strings(out)
	return out
}

// TestAddFileMatchesDecodeFile: AddFile fills an index exactly as
// DecodeFile followed by AddTo does, and fails where DecodeFile fails: on
// files the fast path reads, on files it gives up on part way (after it
// has added some packs), in the old format, and on random mutations.
func TestAddFileMatchesDecodeFile(t *testing.T) {
	rnd := rand.New(rand.NewSource(4))
	f := randomFile(rnd, 8, 20)
	valid, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	old, err := json.Marshal(f.Packs)
	if err != nil {
		t.Fatal(err)
	}
	// the last pack's first blob spells its type with an escape: the fast
	// path gives up after adding the packs before it
	last := f.Packs[len(f.Packs)-1].Blobs[0].ID.String()
	escaped := strings.Replace(string(valid), `"id":"`+last+`","type":"`, `"id":"`+last+`","type":"\u0`, 1)
	escaped = strings.Replace(escaped, `"type":"\u0data"`, `"type":"\u0064ata"`, 1)
	escaped = strings.Replace(escaped, `"type":"\u0tree"`, `"type":"\u0074ree"`, 1)
	if escaped == string(valid) || !strings.Contains(escaped, `\u00`) {
		t.Fatal("the escaped input was not made")
	}
	inputs := map[string][]byte{
		"valid":      valid,
		"escaped":    []byte(escaped),
		"old format": old,
		"broken":     valid[:len(valid)/2],
	}
	for range 200 {
		in := []byte(string(valid))
		in[rnd.Intn(len(in))] = `{}[]":,0123456789abcdefxE-. \n"\`[rnd.Intn(31)]
		inputs[fmt.Sprintf("mutation %d", len(inputs))] = in
	}
	fastGaveUp := false
	for name, in := range inputs {
		want := New()
		wf, wantErr := DecodeFile(in)
		if wantErr == nil {
			wf.AddTo(want)
		}
		got := New()
		gotErr := got.AddFile(in)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("%s: AddFile error %v, DecodeFile error %v", name, gotErr, wantErr)
		}
		if gotErr != nil {
			continue
		}
		if g, w := indexContents(got), indexContents(want); !reflect.DeepEqual(g, w) {
			t.Fatalf("%s: AddFile gave %d records, DecodeFile %d", name, len(g), len(w))
		}
		if name == "escaped" {
			_, _, err := decodeFast(in, func(*PackJSON) {})
			fastGaveUp = err != nil
		}
	}
	if !fastGaveUp {
		t.Fatal("the fast path read the escaped input; the test does not cover its fallback")
	}
	if got := New(); got.AddFile(valid) != nil || got.Len() != blobCount(f) {
		t.Fatalf("valid file: %d records, want %d", got.Len(), blobCount(f))
	}
}

func blobCount(f *File) int {
	n := 0
	for _, p := range f.Packs {
		n += len(p.Blobs)
	}
	return n
}

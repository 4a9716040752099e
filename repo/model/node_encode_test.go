package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// marshalReference is the encoding AppendJSON must reproduce: encoding/json
// through Node's MarshalJSON.
func marshalReference(t testing.TB, n *Node) []byte {
	t.Helper()
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatalf("reference encoding of %+v: %v", n, err)
	}
	return b
}

func checkAppendJSON(t *testing.T, n *Node) {
	t.Helper()
	got, err := n.AppendJSON([]byte("prefix"))
	if err != nil {
		t.Fatalf("AppendJSON(%+v): %v", n, err)
	}
	if !bytes.HasPrefix(got, []byte("prefix")) {
		t.Fatalf("AppendJSON dropped what buf held: %q", got)
	}
	if want := marshalReference(t, n); !bytes.Equal(got[len("prefix"):], want) {
		t.Fatalf("AppendJSON:\n got %s\nwant %s", got[len("prefix"):], want)
	}
}

var awkwardStrings = []string{
	"", "plain", "with space", `quote"d`, `back\slash`, "<html>&amp;", "tab\there", "nl\n", "\x00\x01\x1f\x7f",
	"ümlaut", "日本語", "\xff\xfeinvalid", "line\u2028sep\u2029", "emoji 🎉", "\b\f",
}

func randomString(rng *rand.Rand) string {
	if rng.IntN(3) == 0 {
		return awkwardStrings[rng.IntN(len(awkwardStrings))]
	}
	b := make([]byte, rng.IntN(12))
	for i := range b {
		b[i] = byte(rng.IntN(256))
		if rng.IntN(4) != 0 {
			b[i] = 'a' + byte(rng.IntN(26))
		}
	}
	return string(b)
}

func randomTime(rng *rand.Rand) time.Time {
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("x", 5*3600+30*60), time.FixedZone("y", -8*3600), time.FixedZone("odd", 17), time.FixedZone("z", 0)}
	switch rng.IntN(8) {
	case 0:
		return time.Time{}
	case 1:
		return time.Date(-5+rng.IntN(3)*5000, 1, 2, 3, 4, 5, 6, time.UTC) // years FixTime clamps
	}
	sec := rng.Int64N(4e9)
	nsec := rng.Int64N(1e9)
	if rng.IntN(3) == 0 {
		nsec = 0
	}
	return time.Unix(sec, nsec).In(zones[rng.IntN(len(zones))])
}

func randomNode(rng *rand.Rand) *Node {
	types := []NodeType{NodeTypeFile, NodeTypeDir, NodeTypeSymlink, NodeTypeDev, NodeTypeFifo, "weird<type>"}
	n := &Node{
		Name:       randomString(rng),
		Type:       types[rng.IntN(len(types))],
		ModTime:    randomTime(rng),
		AccessTime: randomTime(rng),
		ChangeTime: randomTime(rng),
		UID:        rng.Uint32(),
		GID:        uint32(rng.IntN(2)),
	}
	if rng.IntN(2) == 0 {
		n.Mode = os.FileMode(rng.Uint32())
	}
	if rng.IntN(2) == 0 {
		n.User, n.Group = randomString(rng), randomString(rng)
	}
	for _, f := range []*uint64{&n.Inode, &n.DeviceID, &n.Size, &n.Links, &n.Device} {
		if rng.IntN(2) == 0 {
			*f = rng.Uint64() >> rng.IntN(64)
		}
	}
	if rng.IntN(3) == 0 {
		n.LinkTarget = randomString(rng)
	}
	if rng.IntN(4) == 0 {
		n.LinkTargetRaw = []byte("ignored when encoding")
	}
	if rng.IntN(3) == 0 {
		for range rng.IntN(3) + 1 {
			a := ExtendedAttribute{Name: randomString(rng)}
			switch rng.IntN(3) {
			case 1:
				a.Value = []byte{}
			case 2:
				a.Value = []byte(randomString(rng))
			}
			n.ExtendedAttributes = append(n.ExtendedAttributes, a)
		}
	}
	if rng.IntN(10) == 0 {
		n.GenericAttributes = map[string]json.RawMessage{"windows.sd": json.RawMessage(`{ "b": 1 }`), "a": json.RawMessage(`"x"`)}
	}
	switch rng.IntN(3) {
	case 0:
		n.Content = IDs{}
	case 1:
		for range rng.IntN(4) + 1 {
			var id ID
			for i := range id {
				id[i] = byte(rng.Uint32())
			}
			n.Content = append(n.Content, id)
		}
	}
	if rng.IntN(2) == 0 {
		var id ID
		id[0], id[31] = byte(rng.Uint32()), 0xab
		n.Subtree = &id
	}
	if rng.IntN(5) == 0 {
		n.Error = randomString(rng)
	}
	return n
}

// AppendJSON gives exactly encoding/json's bytes for every kind of node.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 20000 {
		checkAppendJSON(t, randomNode(rng))
	}
	checkAppendJSON(t, &Node{})
}

// A tree encoded through AppendJSON has the ID of the same tree encoded
// node by node with encoding/json.
func TestEncodeTreeMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var nodes []*Node
	want := []byte(`{"nodes":[`)
	for i := range 50 {
		n := randomNode(rng)
		n.Name = string(rune('a'+i/26)) + string(rune('a'+i%26))
		n.GenericAttributes = nil
		if i > 0 {
			want = append(want, ',')
		}
		want = append(want, marshalReference(t, n)...)
		nodes = append(nodes, n)
	}
	want = append(want, "]}\n"...)
	got, err := EncodeTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("EncodeTree differs:\n got %s\nwant %s", got, want)
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("name", "target", "user", int64(0), uint64(1))
	f.Add("<\xff>", "\u2028", "ü", int64(-62135596800), uint64(1<<63))
	f.Fuzz(func(t *testing.T, name, target, user string, sec int64, size uint64) {
		n := &Node{Name: name, Type: NodeTypeSymlink, LinkTarget: target, User: user, Size: size,
			ModTime: time.Unix(sec%(1<<40), 0).UTC(), ExtendedAttributes: []ExtendedAttribute{{Name: user, Value: []byte(target)}}}
		want, werr := json.Marshal(n)
		got, gerr := n.AppendJSON(nil)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("errors differ: %v vs %v", gerr, werr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}

// decodeReference is what DecodeTree must reproduce: encoding/json.
func decodeReference(data []byte) (*Tree, error) {
	var t Tree
	err := json.Unmarshal(data, &t)
	return &t, err
}

func sameDecoding(t *testing.T, data []byte) {
	t.Helper()
	want, werr := decodeReference(data)
	fast, ferr := decodeTreeFast(data)
	sameStreamDecoding(t, data, fast, ferr)
	if ferr != nil {
		return // the fast path may give up on anything
	}
	if werr != nil {
		t.Fatalf("fast path accepted what encoding/json rejects (%v):\n%s", werr, data)
	}
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("fast path decodes differently:\n%s\n got %#v\nwant %#v", data, fast.Nodes, want.Nodes)
	}
	// the zones of the times must match too (DeepEqual compares the
	// *Location pointers, which differ for equal fixed zones)
	for i := range fast.Nodes {
		for _, p := range [][2]time.Time{{fast.Nodes[i].ModTime, want.Nodes[i].ModTime}, {fast.Nodes[i].ChangeTime, want.Nodes[i].ChangeTime}} {
			if !sameStoredTime(p[0], p[1]) {
				t.Fatalf("time decoded as %v, want %v", p[0], p[1])
			}
		}
	}
}

// sameStreamDecoding checks that DecodeTreeStream, reading data a byte
// at a time and in one piece, takes only trees the fast path takes (fast,
// ferr are its answer) and decodes them the same, and gives up on the
// rest with ErrTreeNotStreamable.
func sameStreamDecoding(t *testing.T, data []byte, fast *Tree, ferr error) {
	t.Helper()
	for _, r := range []io.Reader{bytes.NewReader(data), iotest.OneByteReader(bytes.NewReader(data))} {
		streamed, err := DecodeTreeStream(r)
		switch {
		case errors.Is(err, ErrTreeNotStreamable):
		case err != nil:
			t.Fatalf("stream decoding: %v\n%s", err, data)
		case ferr != nil:
			t.Fatalf("stream decoding took what the fast path gives up on:\n%s", data)
		case !reflect.DeepEqual(streamed, fast):
			t.Fatalf("stream decoding differs from the fast path:\n%s\n got %#v\nwant %#v", data, streamed.Nodes, fast.Nodes)
		}
	}
}

func sameStoredTime(a, b time.Time) bool {
	_, oa := a.Zone()
	_, ob := b.Zone()
	return a.Equal(b) && oa == ob
}

// The fast tree decoder gives what encoding/json gives for the trees arca
// and restic write, and accepts them (it is the path every tree takes).
func TestDecodeTreeFastMatchesJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	accepted := 0
	for i := range 3000 {
		var nodes []*Node
		for j := range rng.IntN(6) {
			n := randomNode(rng)
			n.Name = string(rune('a'+j)) + n.Name
			nodes = append(nodes, n)
		}
		slices.SortFunc(nodes, func(a, b *Node) int { return strings.Compare(a.Name, b.Name) })
		nodes = slices.CompactFunc(nodes, func(a, b *Node) bool { return a.Name == b.Name })
		data, err := EncodeTree(nodes)
		if err != nil {
			continue
		}
		sameDecoding(t, data)
		if _, err := decodeTreeFast(data); err == nil {
			accepted++
			// what arca and restic write, the stream decoder takes
			if _, err := DecodeTreeStream(iotest.HalfReader(bytes.NewReader(data))); err != nil {
				t.Fatalf("stream decoding gave up on a tree the fast path takes: %v\n%s", err, data)
			}
		}
		if i%10 == 0 {
			// white space and key order that encoding/json accepts too
			sameDecoding(t, bytes.ReplaceAll(data, []byte(`,"`), []byte(" ,\n\t\"")))
		}
	}
	if accepted < 300 { // random names often need escapes, which the fast path leaves alone
		t.Fatalf("fast path took only %d of 3000 trees", accepted)
	}
	plain := &Node{Name: "file.txt", Type: NodeTypeFile, Mode: 0o644, ModTime: time.Unix(1e9, 5).UTC(), Size: 3, Content: IDs{{1}}, UID: 1000}
	data, _ := EncodeTree([]*Node{plain})
	if _, err := decodeTreeFast(data); err != nil {
		t.Fatalf("fast path gave up on a plain tree: %s", data)
	}
	for _, s := range []string{
		`{"nodes":[]}`, `{}`, `{"nodes":null}`, `{"nodes":[null]}`, `{"nodes":[{}]}`, `{"nodes":[{"name":"a","name":"b"}]}`,
		`{"nodes":[{"name":"a","Name":"b"}]}`, `{"nodes":[{"name":"a","uid":-1}]}`, `{"nodes":[{"name":"a","uid":4294967296}]}`,
		`{"nodes":[{"name":"a","content":null,"subtree":null,"extended_attributes":null}]}`,
		`{"nodes":[{"name":"a","extended_attributes":[{"name":"x","value":""},{"name":"y","value":null},{"name":"z","value":"AAE="}]}]}`,
		`{"nodes":[{"name":"a","mtime":"2020-01-02T03:04:05.123+01:00","atime":"bad"}]}`,
		`{"nodes":[{"name":"a","size":01}]}`, `{"nodes":[{"name":"a","size":1.0}]}`, `{"nodes":[{"name":"a\u0041"}]}`,
		`{"nodes":[{"name":"ü"}]} `, "{\"nodes\":[{\"name\":\"\xff\"}]}", `{"nodes":[]} x`, `{"nodes":[{"name":"a","content":["00"]}]}`,
	} {
		sameDecoding(t, []byte(s))
	}
}

func FuzzDecodeTreeFast(f *testing.F) {
	data, _ := EncodeTree([]*Node{{Name: "a", Type: NodeTypeFile, Content: IDs{{1}}}, {Name: "b", Type: NodeTypeDir, Subtree: &ID{2}}})
	f.Add(data)
	f.Add([]byte(`{"nodes":[{"name":"a","extended_attributes":[{"name":"x","value":"AAE="}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) { sameDecoding(t, data) })
}

// TestEncodedTreeSizeBound: the estimate EncodeTree sizes its buffer with
// covers typical nodes with every common field at its longest (so the
// buffer is not grown), and EncodeTree gives the same bytes as encoding
// the nodes one by one.
func TestEncodedTreeSizeBound(t *testing.T) {
	when := time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", -(9*3600+30*60)))
	var nodes []*Node
	for i := range 50 {
		n := &Node{
			Name: fmt.Sprintf("file-with-a-longer-name-%03d.tar.zst", i), Type: NodeTypeFile, Mode: 0o100644 | os.ModeSetgid,
			ModTime: when, AccessTime: when, ChangeTime: when,
			UID: 4294967294, GID: 4294967294, User: "a-rather-long-user-name", Group: "a-rather-long-group-name",
			Inode: 1<<63 + 12345, DeviceID: 1<<63 + 99, Size: 1 << 40, Links: 4294967295,
			Content: make(IDs, i),
		}
		if i%10 == 0 {
			n.ExtendedAttributes = []ExtendedAttribute{{Name: "user.comment", Value: []byte("some value of an attribute")}}
		}
		nodes = append(nodes, n)
	}
	buf, err := EncodeTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	if est := EncodedTreeSize(nodes); len(buf) > est {
		t.Fatalf("tree of %d bytes, estimate %d", len(buf), est)
	}
	want := []byte(`{"nodes":[`)
	for i, n := range nodes {
		if i > 0 {
			want = append(want, ',')
		}
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, b...)
	}
	want = append(want, "]}\n"...)
	if !bytes.Equal(buf, want) {
		t.Fatalf("EncodeTree differs from encoding/json:\n%s\n%s", buf, want)
	}
}

// TestDecodeTreeStreamErrors: a read error ends stream decoding with that
// error, and a blob that ends early is not taken.
func TestDecodeTreeStreamErrors(t *testing.T) {
	var nodes []*Node
	for i := range 500 {
		nodes = append(nodes, &Node{Name: fmt.Sprintf("f%04d", i), Type: NodeTypeFile, Content: IDs{{byte(i)}}})
	}
	data, err := EncodeTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	for _, cut := range []int{0, 5, 11, len(data) / 2, len(data) - 3, len(data) - 2} {
		r := io.MultiReader(bytes.NewReader(data[:cut]), iotest.ErrReader(boom))
		if _, err := DecodeTreeStream(r); !errors.Is(err, boom) {
			t.Errorf("read error after %d bytes: %v", cut, err)
		}
		if _, err := DecodeTreeStream(bytes.NewReader(data[:cut])); !errors.Is(err, ErrTreeNotStreamable) {
			t.Errorf("blob cut after %d bytes: %v", cut, err)
		}
	}
	tree, err := DecodeTreeStream(bytes.NewReader(data))
	if err != nil || len(tree.Nodes) != 500 || tree.Nodes[499].Name != "f0499" {
		t.Fatalf("whole blob: %v", err)
	}
}

// goQuotesAsIs must be true exactly where strconv.Quote adds nothing but
// the quotes: for every byte alone and inside a name.
func TestGoQuotesAsIs(t *testing.T) {
	for c := 0; c < 256; c++ {
		for _, s := range []string{string([]byte{byte(c)}), "a" + string([]byte{byte(c)}) + "b"} {
			asIs := strconv.Quote(s) == `"`+s+`"`
			if got := goQuotesAsIs(s); got != asIs {
				t.Errorf("goQuotesAsIs(%q) = %v, strconv.Quote leaves it as it is: %v", s, got, asIs)
			}
		}
	}
	for _, s := range []string{"", "plain name.txt", "über", "a\u00a0b", "<&>"} {
		if got, asIs := goQuotesAsIs(s), strconv.Quote(s) == `"`+s+`"`; got && !asIs {
			t.Errorf("goQuotesAsIs(%q) = true, but strconv.Quote changes it", s)
		}
	}
}

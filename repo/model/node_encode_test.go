package model

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"testing"
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

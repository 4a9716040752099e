package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestNodeJSONMatchesRestic(t *testing.T) {
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 890, time.FixedZone("", 3600))
	sub := ID{0xab}
	nodes := []*Node{
		{Name: "bad\xffname", Type: NodeTypeFile, Mode: 0o644, ModTime: mtime, AccessTime: mtime, ChangeTime: mtime, UID: 1000, GID: 100, User: "u", Group: "g", Inode: 42, Size: 5, Links: 1, Content: IDs{{1}}},
		{Name: "dir", Type: NodeTypeDir, Mode: 0o755 | 1<<31, ModTime: mtime, Subtree: &sub},
		{Name: "link", Type: NodeTypeSymlink, LinkTarget: "t\xfe"},
	}
	buf, err := EncodeTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	s := string(buf)
	for _, want := range []string{
		`{"nodes":[{"name":"bad\\xffname","type":"file","mode":420,"mtime":"2021-03-04T05:06:07.00000089+01:00"`,
		`"uid":1000,"gid":100,"user":"u","group":"g","inode":42,"size":5,"links":1,"content":["01`,
		`{"name":"dir","type":"dir","mode":2147484141,`,
		`"atime":"0001-01-01T00:00:00Z","ctime":"0001-01-01T00:00:00Z","uid":0,"gid":0,"content":null,"subtree":"ab`,
		`"linktarget":"t\ufffd","linktarget_raw":"dP4=","content":null}`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("tree JSON lacks %s\n%s", want, s)
		}
	}
	if !strings.HasSuffix(s, "]}\n") {
		t.Errorf("tree JSON must end with ]}\\n: %q", s[len(s)-5:])
	}
	tree, err := DecodeTree(buf)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Nodes[0].Name != "bad\xffname" || tree.Nodes[2].LinkTarget != "t\xfe" || tree.Nodes[2].LinkTargetRaw != nil {
		t.Fatalf("round trip lost names: %+v", tree.Nodes)
	}
	again, _ := EncodeTree(tree.Nodes)
	if string(again) != s {
		t.Fatalf("re-encoding differs:\n%s\n%s", s, again)
	}
}

func TestEncodeTreeRejectsUnsorted(t *testing.T) {
	if _, err := EncodeTree([]*Node{{Name: "b"}, {Name: "a"}}); err == nil {
		t.Fatal("unsorted nodes accepted")
	}
	if _, err := EncodeTree([]*Node{{Name: "a"}, {Name: "a"}}); err == nil {
		t.Fatal("duplicate nodes accepted")
	}
}

func TestFixTime(t *testing.T) {
	if y := FixTime(time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)).Year(); y != 9999 {
		t.Fatalf("year 12000 -> %d", y)
	}
	if y := FixTime(time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)).Year(); y != 0 {
		t.Fatalf("year -5 -> %d", y)
	}
	n := Node{Name: "x", ModTime: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := json.Marshal(n); err != nil {
		t.Fatalf("node with year 12000 does not encode: %v", err)
	}
}

func TestSnapshotJSONFieldOrder(t *testing.T) {
	tree := ID{2}
	sn := Snapshot{Time: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Tree: &tree, Paths: []string{"/a"}, Hostname: "h", Tags: []string{"x"}, ProgramVersion: "restic 0.19.1"}
	buf, _ := json.Marshal(sn)
	want := `{"time":"2020-01-01T00:00:00Z","tree":"02` + strings.Repeat("0", 62) + `","paths":["/a"],"hostname":"h","tags":["x"],"program_version":"restic 0.19.1"}`
	if string(buf) != want {
		t.Fatalf("got  %s\nwant %s", buf, want)
	}
}

func FuzzDecodeTree(f *testing.F) {
	f.Add([]byte(`{"nodes":[{"name":"a","type":"file","content":null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tree, err := DecodeTree(data)
		if err != nil {
			return
		}
		for _, n := range tree.Nodes {
			if _, err := json.Marshal(n); err != nil {
				// only times outside the JSON range may fail; FixTime handles years
				if !strings.Contains(err.Error(), "Time") {
					t.Fatalf("decoded node does not encode: %v", err)
				}
			}
		}
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add([]byte(`{"time":"2020-01-01T00:00:00Z","tree":"` + strings.Repeat("0", 64) + `","paths":["/"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var sn Snapshot
		_ = json.Unmarshal(data, &sn)
	})
}

func TestParseID(t *testing.T) {
	id := Hash([]byte("x"))
	got, err := ParseID(id.String())
	if err != nil || got != id {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("g", 64), id.String() + "0"} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) succeeded", bad)
		}
	}
	if id.Str() != id.String()[:8] {
		t.Fatal("Str is not the 8-char prefix")
	}
}

func FuzzDecodeConfig(f *testing.F) {
	f.Add([]byte(`{"version":2,"id":"abc","chunker_polynomial":"3da3358b4dc173"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Config
		if json.Unmarshal(data, &c) != nil {
			return
		}
		_ = c.Validate()
	})
}

func TestConfigValidate(t *testing.T) {
	var c Config
	if err := json.Unmarshal([]byte(`{"version":2,"id":"abc","chunker_polynomial":"3da3358b4dc173"}`), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	for _, bad := range []Config{{Version: 3, ID: "x", ChunkerPolynomial: c.ChunkerPolynomial}, {Version: 2, ChunkerPolynomial: c.ChunkerPolynomial}, {Version: 2, ID: "x", ChunkerPolynomial: 4}} {
		if bad.Validate() == nil {
			t.Errorf("invalid config accepted: %+v", bad)
		}
	}
}

// TestTreeIDMatchesEncoding checks that TreeID hashes the bytes EncodeTree
// makes, for trees below and well above the piece TreeID hashes at once,
// and that it refuses what EncodeTree refuses.
func TestTreeIDMatchesEncoding(t *testing.T) {
	mtime := time.Date(2026, 12, 5, 12, 0, 0, 123456789, time.FixedZone("", 3600))
	for _, count := range []int{0, 1, 160, 2000} {
		nodes := make([]*Node, count)
		for i := range nodes {
			nodes[i] = &Node{Name: fmt.Sprintf("file-%05d", i), Type: NodeTypeFile, Mode: 0o644, ModTime: mtime,
				AccessTime: mtime, ChangeTime: mtime, User: "user", Group: "group", Inode: uint64(i), Size: uint64(i),
				Links: 1, Content: IDs{Hash([]byte{byte(i)})}}
		}
		buf, err := EncodeTree(nodes)
		if err != nil {
			t.Fatal(err)
		}
		id, err := TreeID(nodes)
		if err != nil {
			t.Fatal(err)
		}
		if id != Hash(buf) {
			t.Errorf("%d nodes (%d bytes): TreeID %v, hash of the encoding %v", count, len(buf), id.Str(), Hash(buf).Str())
		}
	}
	if _, err := TreeID([]*Node{{Name: "b"}, {Name: "a"}}); !errors.Is(err, ErrTreeNotOrdered) {
		t.Errorf("unsorted nodes: %v", err)
	}
}

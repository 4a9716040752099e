package archiver

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/arca-backup/arca/repo/model"
)

// TestIdenticalCoversNode fails when model.Node gains a field that
// identical does not know about.
func TestIdenticalCoversNode(t *testing.T) {
	known := []string{"Name", "Type", "Mode", "ModTime", "AccessTime", "ChangeTime", "UID", "GID", "User", "Group",
		"Inode", "DeviceID", "Size", "Links", "LinkTarget", "LinkTargetRaw", "ExtendedAttributes", "GenericAttributes",
		"Device", "Content", "Subtree", "Error", "Path"}
	var fields []string
	for f := range reflect.TypeFor[model.Node]().Fields() {
		fields = append(fields, f.Name)
	}
	if !slices.Equal(fields, known) {
		t.Fatalf("model.Node has fields %v; identical and surelyDiffer know %v: update them", fields, known)
	}
}

// TestSameNodeMatchesJSON: sameNode agrees with comparing the encodings on
// pairs that differ in one field, in ways the encoding hides (time zones
// with equal offsets, LinkTargetRaw, nil and empty), and never claims two
// nodes with different JSON to be the same.
func TestSameNodeMatchesJSON(t *testing.T) {
	utc := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	id := model.Hash([]byte("a"))
	sub := model.Hash([]byte("tree"))
	base := func() *model.Node {
		return &model.Node{Name: "f\x01ö", Type: model.NodeTypeFile, Mode: 0o644, ModTime: utc, AccessTime: utc, ChangeTime: utc,
			UID: 1000, GID: 100, User: "u", Group: "g", Inode: 42, DeviceID: 7, Size: 3, Links: 1,
			ExtendedAttributes: []model.ExtendedAttribute{{Name: "user.x", Value: []byte("v")}},
			Content:            model.IDs{id}}
	}
	edits := map[string]func(n *model.Node){
		"nothing":          func(n *model.Node) {},
		"name":             func(n *model.Node) { n.Name = "g" },
		"mode":             func(n *model.Node) { n.Mode = 0o600 },
		"mtime":            func(n *model.Node) { n.ModTime = utc.Add(time.Nanosecond) },
		"mtime zone":       func(n *model.Node) { n.ModTime = utc.In(time.FixedZone("X", 3600)) },
		"mtime same off":   func(n *model.Node) { n.ModTime = utc.In(time.FixedZone("Y", 0)) },
		"mtime local":      func(n *model.Node) { n.ModTime = utc.Local() },
		"atime":            func(n *model.Node) { n.AccessTime = time.Time{} },
		"ctime far":        func(n *model.Node) { n.ChangeTime = utc.AddDate(9000, 0, 0) },
		"uid":              func(n *model.Node) { n.UID = 0 },
		"gid":              func(n *model.Node) { n.GID = 1 },
		"user":             func(n *model.Node) { n.User = "" },
		"group":            func(n *model.Node) { n.Group = "h" },
		"inode":            func(n *model.Node) { n.Inode = 43 },
		"device id":        func(n *model.Node) { n.DeviceID = 0 },
		"size":             func(n *model.Node) { n.Size = 4 },
		"links":            func(n *model.Node) { n.Links = 2 },
		"link target":      func(n *model.Node) { n.LinkTarget = "x" },
		"link target raw":  func(n *model.Node) { n.LinkTargetRaw = []byte("junk") },
		"bad link target":  func(n *model.Node) { n.LinkTarget = "\xff" },
		"xattr value":      func(n *model.Node) { n.ExtendedAttributes[0].Value = []byte("w") },
		"xattr empty":      func(n *model.Node) { n.ExtendedAttributes[0].Value = []byte{} },
		"xattr nil":        func(n *model.Node) { n.ExtendedAttributes[0].Value = nil },
		"no xattrs":        func(n *model.Node) { n.ExtendedAttributes = nil },
		"empty xattrs":     func(n *model.Node) { n.ExtendedAttributes = []model.ExtendedAttribute{} },
		"generic":          func(n *model.Node) { n.GenericAttributes = map[string]json.RawMessage{"a": json.RawMessage(`1`)} },
		"empty generic":    func(n *model.Node) { n.GenericAttributes = map[string]json.RawMessage{} },
		"device":           func(n *model.Node) { n.Device = 9 },
		"content":          func(n *model.Node) { n.Content = model.IDs{sub} },
		"content nil":      func(n *model.Node) { n.Content = nil },
		"content empty":    func(n *model.Node) { n.Content = model.IDs{} },
		"subtree":          func(n *model.Node) { n.Subtree = &sub },
		"error":            func(n *model.Node) { n.Error = "e" },
		"path":             func(n *model.Node) { n.Path = "/somewhere" },
		"type":             func(n *model.Node) { n.Type = model.NodeTypeSymlink },
		"content and size": func(n *model.Node) { n.Content, n.Size = nil, 0 },
	}
	for name, edit := range edits {
		a, b := base(), base()
		edit(b)
		for _, pair := range [][2]*model.Node{{a, b}, {b, a}, {b, b}} {
			ja, err1 := json.Marshal(pair[0])
			jb, err2 := json.Marshal(pair[1])
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			want := bytes.Equal(ja, jb)
			if got := sameNode(pair[0], pair[1]); got != want {
				t.Errorf("%s: sameNode %v, JSON equal %v\n%s\n%s", name, got, want, ja, jb)
			}
			if identical(pair[0], pair[1]) && !want {
				t.Errorf("%s: identical although the JSON differs", name)
			}
			if surelyDiffer(pair[0], pair[1]) && want {
				t.Errorf("%s: surelyDiffer although the JSON is equal", name)
			}
		}
	}
}

package archiver

import (
	"bytes"
	"time"

	"github.com/arca-backup/arca/repo/model"
)

// sameNode reports whether two nodes have the same stored form (JSON).
// Encoding both is what defines it, but costs more than the rest of an
// unchanged file's handling, so two cheap checks come first: fields whose
// difference always shows in the JSON, and field-by-field identity, which
// always gives identical JSON. Only nodes between the two are encoded.
func sameNode(a, b *model.Node) bool {
	if surelyDiffer(a, b) {
		return false
	}
	if identical(a, b) {
		return true
	}
	ja, err1 := a.AppendJSON(nil)
	jb, err2 := b.AppendJSON(nil)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// surelyDiffer compares fields that are encoded injectively: a difference
// in any of them is a difference in the JSON.
func surelyDiffer(a, b *model.Node) bool {
	return a.Name != b.Name || a.Type != b.Type || a.Size != b.Size || a.Mode != b.Mode ||
		a.Inode != b.Inode || len(a.Content) != len(b.Content)
}

// identical reports whether every stored field of a and b is the same in
// a way that makes their JSON the same. False means "not sure". It must
// name every field of model.Node (TestIdenticalCoversNode checks).
func identical(a, b *model.Node) bool {
	if a.Name != b.Name || a.Type != b.Type || a.Mode != b.Mode ||
		a.UID != b.UID || a.GID != b.GID || a.User != b.User || a.Group != b.Group ||
		a.Inode != b.Inode || a.DeviceID != b.DeviceID || a.Size != b.Size || a.Links != b.Links ||
		a.LinkTarget != b.LinkTarget || a.Device != b.Device || a.Error != b.Error {
		return false
	}
	// LinkTargetRaw is not compared: the encoding derives it from
	// LinkTarget. Path is not stored.
	if !sameTime(a.ModTime, b.ModTime) || !sameTime(a.AccessTime, b.AccessTime) || !sameTime(a.ChangeTime, b.ChangeTime) {
		return false
	}
	if len(a.ExtendedAttributes) != len(b.ExtendedAttributes) {
		return false
	}
	for i, x := range a.ExtendedAttributes {
		y := b.ExtendedAttributes[i]
		if x.Name != y.Name || (x.Value == nil) != (y.Value == nil) || !bytes.Equal(x.Value, y.Value) {
			return false
		}
	}
	if len(a.GenericAttributes) != 0 || len(b.GenericAttributes) != 0 {
		return false // rare; left to the encoding
	}
	if (a.Content == nil) != (b.Content == nil) || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if a.Content[i] != b.Content[i] {
			return false
		}
	}
	switch {
	case a.Subtree == nil && b.Subtree == nil:
	case a.Subtree == nil || b.Subtree == nil || *a.Subtree != *b.Subtree:
		return false
	}
	return true
}

// sameTime reports whether two times encode to the same RFC 3339 text:
// the same instant with the same UTC offset, in the years the encoding
// leaves alone.
func sameTime(x, y time.Time) bool {
	if !x.Equal(y) {
		return false
	}
	_, ox := x.Zone()
	_, oy := y.Zone()
	return ox == oy && x.Year() >= 0 && x.Year() <= 9999
}

package model

import (
	"encoding/base64"
	"errors"
	"math"
	"os"
	"time"

	"github.com/arca-backup/arca/repo/internal/fastjson"
)

// Trees are read for every directory a backup compares with its parent
// and every directory a restore, ls, find, diff or check visits. Through
// encoding/json each node is scanned twice (once to find it, once by
// Node's UnmarshalJSON) and each content ID costs a further decoder call.
// decodeTreeFast reads the shape restic writes directly. It accepts only
// input it decodes exactly as encoding/json would and gives up
// (errNotFast) on anything else: escapes, unknown or repeated keys, null
// where restic writes none, generic attributes, linktarget_raw; DecodeTree
// then uses encoding/json.

var errNotFast = errors.New("tree: not in the fast path's shape")

type treeDecoder struct {
	*fastjson.Decoder
}

func decodeTreeFast(data []byte) (*Tree, error) {
	d := treeDecoder{fastjson.New(data)}
	t := &Tree{}
	seen := false
	ok := d.Object(func(key []byte) bool {
		if string(key) != "nodes" || seen {
			return false
		}
		seen = true
		t.Nodes = []*Node{}
		return d.Array(func() bool {
			n := &Node{}
			t.Nodes = append(t.Nodes, n)
			return d.node(n)
		})
	})
	if !ok || !d.End() {
		return nil, errNotFast
	}
	return t, nil
}

// node fields, one bit each, to reject a key given twice
const (
	fName = 1 << iota
	fType
	fMode
	fMtime
	fAtime
	fCtime
	fUID
	fGID
	fUser
	fGroup
	fInode
	fDeviceID
	fSize
	fLinks
	fLinkTarget
	fXattrs
	fDevice
	fContent
	fSubtree
	fError
)

func (d treeDecoder) node(n *Node) bool {
	seen := 0
	return d.Object(func(key []byte) bool {
		var bit int
		ok := false
		switch string(key) {
		case "name":
			// stored Go-quoted; without backslashes that is the name itself
			bit = fName
			n.Name, ok = d.str()
		case "type":
			bit = fType
			var s string
			s, ok = d.str()
			n.Type = NodeType(s)
		case "mode":
			var v uint32
			bit, ok = fMode, d.uint32(&v)
			n.Mode = os.FileMode(v)
		case "mtime":
			bit, ok = fMtime, d.time(&n.ModTime)
		case "atime":
			bit, ok = fAtime, d.time(&n.AccessTime)
		case "ctime":
			bit, ok = fCtime, d.time(&n.ChangeTime)
		case "uid":
			bit, ok = fUID, d.uint32(&n.UID)
		case "gid":
			bit, ok = fGID, d.uint32(&n.GID)
		case "user":
			bit = fUser
			n.User, ok = d.str()
		case "group":
			bit = fGroup
			n.Group, ok = d.str()
		case "inode":
			bit = fInode
			n.Inode, ok = d.Uint(math.MaxUint64)
		case "device_id":
			bit = fDeviceID
			n.DeviceID, ok = d.Uint(math.MaxUint64)
		case "size":
			bit = fSize
			n.Size, ok = d.Uint(math.MaxUint64)
		case "links":
			bit = fLinks
			n.Links, ok = d.Uint(math.MaxUint64)
		case "linktarget":
			bit = fLinkTarget
			n.LinkTarget, ok = d.str()
		case "extended_attributes":
			bit, ok = fXattrs, d.xattrs(n)
		case "device":
			bit = fDevice
			n.Device, ok = d.Uint(math.MaxUint64)
		case "content":
			bit, ok = fContent, d.content(n)
		case "subtree":
			bit = fSubtree
			if d.Null() {
				ok = true
			} else {
				var id ID
				ok = d.Hex(id[:])
				n.Subtree = &id
			}
		case "error":
			bit = fError
			n.Error, ok = d.str()
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

// uint32 reads a number that fits a uint32 into v.
func (d treeDecoder) uint32(v *uint32) bool {
	n, ok := d.Uint(math.MaxUint32)
	*v = uint32(n)
	return ok
}

func (d treeDecoder) str() (string, bool) {
	s, ok := d.String()
	return string(s), ok
}

// time reads a timestamp through time.Time's own UnmarshalJSON, which is
// what encoding/json calls.
func (d treeDecoder) time(t *time.Time) bool {
	s, ok := d.ASCIIString()
	if !ok {
		return false
	}
	quoted := make([]byte, 0, 40)
	quoted = append(append(append(quoted, '"'), s...), '"')
	return t.UnmarshalJSON(quoted) == nil
}

func (d treeDecoder) content(n *Node) bool {
	if d.Null() {
		n.Content = nil
		return true
	}
	ids := IDs{}
	ok := d.Array(func() bool {
		var id ID
		ok := d.Hex(id[:])
		ids = append(ids, id)
		return ok
	})
	n.Content = ids
	return ok
}

func (d treeDecoder) xattrs(n *Node) bool {
	if d.Null() {
		n.ExtendedAttributes = nil
		return true
	}
	attrs := []ExtendedAttribute{}
	ok := d.Array(func() bool {
		var a ExtendedAttribute
		seenName, seenValue := false, false
		ok := d.Object(func(key []byte) bool {
			switch {
			case string(key) == "name" && !seenName:
				seenName = true
				var ok bool
				a.Name, ok = d.str()
				return ok
			case string(key) == "value" && !seenValue:
				seenValue = true
				if d.Null() {
					return true
				}
				s, ok := d.ASCIIString()
				if !ok {
					return false
				}
				v, err := base64.StdEncoding.DecodeString(string(s))
				a.Value = v
				return err == nil
			}
			return false
		})
		attrs = append(attrs, a)
		return ok
	})
	n.ExtendedAttributes = attrs
	return ok
}

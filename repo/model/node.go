package model

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"
	"unicode/utf8"
)

// NodeType is the kind of a tree entry.
type NodeType string

// Node types as restic names them.
const (
	NodeTypeFile      NodeType = "file"
	NodeTypeDir       NodeType = "dir"
	NodeTypeSymlink   NodeType = "symlink"
	NodeTypeDev       NodeType = "dev"
	NodeTypeCharDev   NodeType = "chardev"
	NodeTypeFifo      NodeType = "fifo"
	NodeTypeSocket    NodeType = "socket"
	NodeTypeIrregular NodeType = "irregular"
)

// ExtendedAttribute is one xattr name and value.
type ExtendedAttribute struct {
	Name  string `json:"name"`
	Value []byte `json:"value"`
}

// Node is one entry of a tree: a file, directory or other item. The field
// order, names and omitempty flags are restic's; changing them changes every
// tree ID.
type Node struct {
	Name               string                     `json:"name"`
	Type               NodeType                   `json:"type"`
	Mode               os.FileMode                `json:"mode,omitempty"`
	ModTime            time.Time                  `json:"mtime,omitempty"`
	AccessTime         time.Time                  `json:"atime,omitempty"`
	ChangeTime         time.Time                  `json:"ctime,omitempty"`
	UID                uint32                     `json:"uid"`
	GID                uint32                     `json:"gid"`
	User               string                     `json:"user,omitempty"`
	Group              string                     `json:"group,omitempty"`
	Inode              uint64                     `json:"inode,omitempty"`
	DeviceID           uint64                     `json:"device_id,omitempty"`
	Size               uint64                     `json:"size,omitempty"`
	Links              uint64                     `json:"links,omitempty"`
	LinkTarget         string                     `json:"linktarget,omitempty"`
	LinkTargetRaw      []byte                     `json:"linktarget_raw,omitempty"`
	ExtendedAttributes []ExtendedAttribute        `json:"extended_attributes,omitempty"`
	GenericAttributes  map[string]json.RawMessage `json:"generic_attributes,omitempty"`
	Device             uint64                     `json:"device,omitempty"`
	Content            IDs                        `json:"content"`
	Subtree            *ID                        `json:"subtree,omitempty"`

	Error string `json:"error,omitempty"`

	// Path is the node's path in the snapshot while walking; not stored.
	Path string `json:"-"`
}

// nodeJSON has Node's fields without its methods, for the default encoding.
type nodeJSON Node

// MarshalJSON encodes the node as restic does: out-of-range years are
// clamped, the name is stored Go-quoted (so names that are not UTF-8
// survive), and a symlink target that is not UTF-8 goes to linktarget_raw.
func (n Node) MarshalJSON() ([]byte, error) {
	n.ModTime = FixTime(n.ModTime)
	n.AccessTime = FixTime(n.AccessTime)
	n.ChangeTime = FixTime(n.ChangeTime)
	nj := nodeJSON(n)
	q := strconv.Quote(n.Name)
	nj.Name = q[1 : len(q)-1]
	nj.LinkTargetRaw = nil
	if !utf8.ValidString(n.LinkTarget) {
		nj.LinkTargetRaw = []byte(n.LinkTarget)
	}
	return json.Marshal(nj)
}

// UnmarshalJSON reverses MarshalJSON.
func (n *Node) UnmarshalJSON(data []byte) error {
	nj := (*nodeJSON)(n)
	if err := json.Unmarshal(data, nj); err != nil {
		return fmt.Errorf("decode node: %w", err)
	}
	name, err := strconv.Unquote(`"` + nj.Name + `"`)
	if err != nil {
		return fmt.Errorf("decode node name %q: %w", nj.Name, err)
	}
	nj.Name = name
	if nj.LinkTargetRaw != nil {
		nj.LinkTarget = string(nj.LinkTargetRaw)
		nj.LinkTargetRaw = nil
	}
	return nil
}

// FixTime moves a time into the years 0..9999 (only the year changes), so
// it can be encoded as RFC 3339.
func FixTime(t time.Time) time.Time {
	switch {
	case t.Year() < 0:
		return t.AddDate(-t.Year(), 0, 0)
	case t.Year() > 9999:
		return t.AddDate(-(t.Year() - 9999), 0, 0)
	}
	return t
}

// FileMode returns the node's mode including the type bits Go uses.
func (n *Node) FileMode() os.FileMode {
	var m os.FileMode
	switch n.Type {
	case NodeTypeDir:
		m = os.ModeDir
	case NodeTypeSymlink:
		m = os.ModeSymlink
	case NodeTypeDev:
		m = os.ModeDevice
	case NodeTypeCharDev:
		m = os.ModeDevice | os.ModeCharDevice
	case NodeTypeFifo:
		m = os.ModeNamedPipe
	case NodeTypeSocket:
		m = os.ModeSocket
	case NodeTypeIrregular:
		m = os.ModeIrregular
	}
	return m | n.Mode
}

package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Tree is a directory listing: nodes sorted by name.
type Tree struct {
	Nodes []*Node `json:"nodes"`
}

// ErrTreeNotOrdered is returned when tree nodes are not strictly sorted by name.
var ErrTreeNotOrdered = errors.New("nodes are not ordered or duplicate")

// EncodeTree returns the tree blob for nodes, byte-identical to restic's:
// {"nodes":[...]} and a newline. Nodes must be sorted by name, without duplicates.
func EncodeTree(nodes []*Node) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"nodes":[`)
	for i, n := range nodes {
		if i > 0 {
			if n.Name <= nodes[i-1].Name {
				return nil, fmt.Errorf("node %q after %q: %w", n.Name, nodes[i-1].Name, ErrTreeNotOrdered)
			}
			buf.WriteByte(',')
		}
		b, err := n.AppendJSON(buf.AvailableBuffer())
		if err != nil {
			return nil, fmt.Errorf("encode node %q: %w", n.Name, err)
		}
		buf.Write(b)
	}
	buf.WriteString("]}\n")
	return buf.Bytes(), nil
}

// DecodeTree parses a tree blob.
func DecodeTree(data []byte) (*Tree, error) {
	if t, err := decodeTreeFast(data); err == nil {
		return t, nil
	}
	var t Tree
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("decode tree: %w", err)
	}
	for i, n := range t.Nodes {
		if n == nil {
			return nil, fmt.Errorf("decode tree: node %d is null", i)
		}
	}
	return &t, nil
}

// Find returns the node with the given name, or nil.
func (t *Tree) Find(name string) *Node {
	for _, n := range t.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

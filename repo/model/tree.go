package model

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	return appendTree(make([]byte, 0, EncodedTreeSize(nodes)), nodes, nil)
}

// AppendTree appends the tree blob EncodeTree makes of nodes to dst.
func AppendTree(dst []byte, nodes []*Node) ([]byte, error) {
	return appendTree(slices.Grow(dst, EncodedTreeSize(nodes)), nodes, nil)
}

// TreeID returns the ID of the tree blob EncodeTree makes of nodes (the
// SHA-256 of its bytes) without holding the whole blob in memory: the
// encoding goes through the hash in pieces of about treeHashPiece bytes.
func TreeID(nodes []*Node) (ID, error) {
	h := sha256.New()
	rest, err := appendTree(make([]byte, 0, treeHashPiece+4096), nodes, func(b []byte) { h.Write(b) })
	if err != nil {
		return ID{}, err
	}
	h.Write(rest)
	var id ID
	h.Sum(id[:0])
	return id, nil
}

// treeHashPiece is how much of a tree's encoding TreeID hashes at once.
const treeHashPiece = 64 << 10

// appendTree appends the encoding of nodes to buf. With spill, whenever
// buf holds treeHashPiece bytes or more they go to spill and buf starts
// over; the rest is returned.
func appendTree(buf []byte, nodes []*Node, spill func([]byte)) ([]byte, error) {
	buf = append(buf, `{"nodes":[`...)
	for i, n := range nodes {
		if i > 0 {
			if n.Name <= nodes[i-1].Name {
				return nil, fmt.Errorf("node %q after %q: %w", n.Name, nodes[i-1].Name, ErrTreeNotOrdered)
			}
			buf = append(buf, ',')
		}
		var err error
		if buf, err = n.AppendJSON(buf); err != nil {
			return nil, fmt.Errorf("encode node %q: %w", n.Name, err)
		}
		if spill != nil && len(buf) >= treeHashPiece {
			spill(buf)
			buf = buf[:0]
		}
	}
	return append(buf, "]}\n"...), nil
}

// EncodedTreeSize estimates the length of nodes' tree blob from above for
// typical nodes, so that encoding it rarely grows the buffer (growing it
// from small took twice the blob's size in allocations, a fifth of all of
// a backup of many small files).
func EncodedTreeSize(nodes []*Node) int {
	size := 16
	for _, n := range nodes {
		// the fixed fields of a file with long user and group names take
		// about 330 bytes; each content ID 67 (quoted hex and a comma)
		size += 384 + 2*len(n.Name) + len(n.LinkTarget) + 67*len(n.Content)
		for _, x := range n.ExtendedAttributes {
			size += 32 + len(x.Name) + 2*len(x.Value)
		}
	}
	return size
}

// DecodeTree parses a tree blob.
//
// The tree keeps no reference to data, which may be reused.
func DecodeTree(data []byte) (*Tree, error) {
	if t, err := decodeTreeFast(data); err == nil {
		return t, nil
	}
	var t Tree
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, &TreeDecodeError{err}
	}
	for i, n := range t.Nodes {
		if n == nil {
			return nil, &TreeDecodeError{fmt.Errorf("node %d is null", i)}
		}
	}
	return &t, nil
}

// TreeDecodeError is DecodeTree's error: the blob is not a tree.
type TreeDecodeError struct{ Err error }

func (e *TreeDecodeError) Error() string { return "decode tree: " + e.Err.Error() }
func (e *TreeDecodeError) Unwrap() error { return e.Err }

// Find returns the node with the given name, or nil.
func (t *Tree) Find(name string) *Node {
	for _, n := range t.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

package model

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestTreeEncoderMatchesEncodeTree encodes the same nodes with both
// encoders, for trees of no node up to many pieces, with random nodes
// (names, times, link targets, attributes), and compares blob and ID.
func TestTreeEncoderMatchesEncodeTree(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for _, count := range []int{0, 1, 2, 150, 400, 3000, 12000} {
		nodes := make([]*Node, 0, count)
		seen := map[string]bool{}
		for len(nodes) < count {
			n := randomNode(rng)
			n.Name = fmt.Sprintf("%s-%d", n.Name, len(nodes))
			if !seen[n.Name] {
				seen[n.Name] = true
				nodes = append(nodes, n)
			}
		}
		slices.SortFunc(nodes, func(a, b *Node) int { return strings.Compare(a.Name, b.Name) })
		want, err := EncodeTree(nodes)
		if err != nil {
			t.Fatal(err)
		}
		start := make([]byte, 10, 32) // contents to be dropped
		e := NewTreeEncoder(start)
		for _, n := range nodes {
			if err := e.Add(n); err != nil {
				t.Fatal(err)
			}
		}
		if e.Nodes() != count {
			t.Errorf("%d nodes: Nodes() = %d", count, e.Nodes())
		}
		if e.Len() != len(want) {
			t.Errorf("%d nodes: Len() = %d, want %d", count, e.Len(), len(want))
		}
		if got := e.ID(); got != Hash(want) {
			t.Errorf("%d nodes (%d bytes): ID %v, want %v", count, len(want), got.Str(), Hash(want).Str())
		}
		pieces := e.Pieces()
		if joined := bytes.Join(pieces, nil); !bytes.Equal(joined, want) {
			t.Errorf("%d nodes (%d bytes): pieces joined differ (%d bytes)", count, len(want), len(joined))
		}
		// a piece ends after the node that fills it to encoderPiece, so
		// there are several when all but the closing "]}\n" fills one
		if many := len(want)-3 >= encoderPiece; many != (len(pieces) > 1) {
			t.Errorf("%d nodes (%d bytes): %d pieces", count, len(want), len(pieces))
		}
		for i, p := range pieces[:len(pieces)-1] {
			if len(p) < encoderPiece {
				t.Errorf("%d nodes: piece %d has %d bytes", count, i, len(p))
			}
		}
		got := e.Blob()
		if !bytes.Equal(got, want) {
			t.Errorf("%d nodes (%d bytes): blobs differ (%d bytes)", count, len(want), len(got))
		}
		if len(pieces) > 1 && cap(got) != len(got) {
			t.Errorf("%d nodes: blob of several pieces has capacity %d for %d bytes", count, cap(got), len(got))
		}
		if again := e.Blob(); !bytes.Equal(again, want) || e.ID() != Hash(want) {
			t.Errorf("%d nodes: a second Blob or ID differs", count)
		}
		if err := e.Add(&Node{Name: "\xff"}); err == nil {
			t.Errorf("%d nodes: a node added after the blob was taken", count)
		}
	}
}

func TestTreeEncoderRejectsUnsorted(t *testing.T) {
	for _, names := range [][]string{{"b", "a"}, {"a", "a"}} {
		e := NewTreeEncoder(nil)
		if err := e.Add(&Node{Name: names[0]}); err != nil {
			t.Fatal(err)
		}
		if err := e.Add(&Node{Name: names[1]}); !errors.Is(err, ErrTreeNotOrdered) {
			t.Errorf("%q after %q: %v", names[1], names[0], err)
		}
	}
}

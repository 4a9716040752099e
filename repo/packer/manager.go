package packer

import (
	"errors"
	"math/rand/v2"
	"sync"

	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/pack"
)

// DefaultOpenPacks is how many packs per blob type a Manager keeps open,
// as restic does.
const DefaultOpenPacks = 2

// Manager distributes the blobs of one type over a few open packs. It is
// safe for concurrent use.
type Manager struct {
	typ      model.BlobType
	size     int
	maxBlobs int
	dir      string

	mu     sync.Mutex
	open   []*Packer
	closed bool
}

// NewManager returns a manager for blobs of type t that finishes packs at
// size bytes or maxBlobs blobs (0: as many as a header takes), keeps open
// packs open at once and creates their temporary files in dir (the
// system's temporary directory when empty).
func NewManager(t model.BlobType, size, maxBlobs, open int, dir string) *Manager {
	if open < 1 {
		open = 1
	}
	return &Manager{typ: t, size: size, maxBlobs: maxBlobs, dir: dir, open: make([]*Packer, open)}
}

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("packer: manager closed")

// Handoff receives a full pack. It runs under the manager's lock, so a
// handoff that blocks (waiting for upload capacity) holds back every other
// blob of the manager's type; that is the writer's backpressure. When it
// returns an error the pack stays open and is handed off again later.
type Handoff func(p *Packer) error

// Add puts a sealed blob into a randomly chosen open pack (a blob of at
// least the target size gets a pack of its own) and hands the pack off
// when it is full. It returns the bytes the blob adds to the repository:
// the blob and its header entry, plus the header overhead when it
// completed a pack.
func (m *Manager) Add(id model.ID, sealed []byte, uncompressedLength int, handoff Handoff) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrClosed
	}
	slot := -1
	var p *Packer
	var err error
	if len(sealed) >= m.size {
		if p, err = New(m.typ, m.dir); err != nil {
			return 0, err
		}
	} else {
		slot = rand.IntN(len(m.open))
		p = m.open[slot]
		if p == nil {
			if p, err = New(m.typ, m.dir); err != nil {
				return 0, err
			}
			m.open[slot] = p
		}
	}
	n, err := p.Add(id, sealed, uncompressedLength)
	if err != nil {
		// a pack whose file failed is lost with all its blobs: the
		// writer fails as a whole
		if slot >= 0 {
			m.open[slot] = nil
		}
		p.Close()
		return 0, err
	}
	if !p.Full(m.size, m.maxBlobs) {
		return n, nil
	}
	if err := handoff(p); err != nil {
		if slot < 0 {
			// keep the oversized pack around so it is not lost
			m.keep(p)
		}
		return n, err
	}
	if slot >= 0 {
		m.open[slot] = nil
	}
	return n + pack.HeaderOverhead, nil
}

// keep stores an oversized pack whose handoff failed in an open slot (or
// merges it) so Flush finds it.
func (m *Manager) keep(p *Packer) {
	for i, o := range m.open {
		if o == nil {
			m.open[i] = p
			return
		}
	}
	m.open = append(m.open, p)
}

// Flush detaches every open pack and returns them, small ones merged while
// the merged pack stays below the target size (so a small backup does not
// end up with one pack per blob, which would reveal blob sizes). On an
// error every open pack is closed.
func (m *Manager) Flush() ([]*Packer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Packer
	var cur *Packer
	var err error
	for i, p := range m.open {
		m.open[i] = nil
		switch {
		case p == nil:
		case err != nil:
			p.Close()
		case cur == nil:
			cur = p
		case cur.Size()+p.Size() < m.size && cur.Count()+p.Count() <= m.maxOrDefault():
			err = cur.Merge(p)
		default:
			out = append(out, cur)
			cur = p
		}
	}
	if cur != nil {
		out = append(out, cur)
	}
	if err != nil {
		for _, p := range out {
			p.Close()
		}
		return nil, err
	}
	return out, nil
}

// Close closes every open pack and makes further Adds fail with
// ErrClosed. Packs already handed off are not affected.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	for i, p := range m.open {
		if p != nil {
			p.Close()
			m.open[i] = nil
		}
	}
}

func (m *Manager) maxOrDefault() int {
	if m.maxBlobs <= 0 || m.maxBlobs > MaxHeaderEntries {
		return MaxHeaderEntries
	}
	return m.maxBlobs
}

// Pending returns the number of blob bytes in open packs.
func (m *Manager) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, p := range m.open {
		if p != nil {
			n += p.Size()
		}
	}
	return n
}

package packer

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/pack"
)

// DefaultOpenPacks is how many packs per blob type a Manager keeps open,
// as restic does.
const DefaultOpenPacks = 2

// Manager distributes the blobs of one type over a few open packs. It is
// safe for concurrent use: an Add writes its blob into a pack that no
// other Add holds, outside the manager's lock, so blobs go into different
// packs at the same time (writing a blob also hashes it into the pack's
// ID, which is about as much work as hashing the blob itself).
type Manager struct {
	typ      model.BlobType
	size     int
	maxBlobs int
	dir      string
	// WriteBehind is passed on to every pack the manager starts
	// (Packer.WriteBehind). Set it before the first Add.
	WriteBehind bool

	mu     sync.Mutex
	freed  sync.Cond // an Add gave its slot back
	open   []*Packer
	busy   []bool // the slot's pack is being written by an Add
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
	m := &Manager{typ: t, size: size, maxBlobs: maxBlobs, dir: dir, open: make([]*Packer, open), busy: make([]bool, open)}
	m.freed.L = &m.mu
	return m
}

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("packer: manager closed")

// Handoff receives a full pack. It runs under the manager's lock, so a
// handoff that blocks (waiting for upload capacity) holds back every other
// blob of the manager's type; that is the writer's backpressure. When it
// returns an error the pack stays open and is handed off again later.
type Handoff func(p *Packer) error

// Add puts a sealed blob into a randomly chosen open pack that no other
// Add is writing to (a blob of at least the target size gets a pack of
// its own) and hands the pack off when it is full. It returns the bytes
// the blob adds to the repository: the blob and its header entry, plus
// the header overhead when it completed a pack.
func (m *Manager) Add(id model.ID, sealed []byte, uncompressedLength int, handoff Handoff) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrClosed
	}
	if len(sealed) >= m.size {
		return m.addAlone(id, sealed, uncompressedLength, handoff)
	}
	slot, err := m.takeSlot()
	if err != nil {
		return 0, err
	}
	p := m.open[slot]

	m.mu.Unlock()
	n, err := p.Add(id, sealed, uncompressedLength)
	m.mu.Lock()

	m.busy[slot] = false
	m.freed.Broadcast()
	switch {
	case m.closed:
		// Close left this pack to us
		m.open[slot] = nil
		p.Close()
		return 0, ErrClosed
	case err != nil:
		// a pack whose file failed is lost with all its blobs: the
		// writer fails as a whole
		m.open[slot] = nil
		p.Close()
		return 0, err
	case !p.Full(m.size, m.maxBlobs):
		return n, nil
	}
	if err := handoff(p); err != nil {
		return n, err
	}
	m.open[slot] = nil
	return n + pack.HeaderOverhead, nil
}

// takeSlot picks a random slot no Add is writing to, waiting for one if
// all are taken, marks it busy and makes sure it holds an open pack. It
// runs under m.mu.
func (m *Manager) takeSlot() (int, error) {
	for {
		free := 0
		for _, b := range m.busy {
			if !b {
				free++
			}
		}
		if free == 0 {
			m.freed.Wait()
			if m.closed {
				return 0, ErrClosed
			}
			continue
		}
		k := rand.IntN(free)
		for slot, b := range m.busy {
			if b {
				continue
			}
			if k > 0 {
				k--
				continue
			}
			if m.open[slot] == nil {
				p, err := m.newPack()
				if err != nil {
					return 0, err
				}
				m.open[slot] = p
			}
			m.busy[slot] = true
			return slot, nil
		}
	}
}

// newPack starts a pack in the manager's directory.
func (m *Manager) newPack() (*Packer, error) {
	p, err := New(m.typ, m.dir)
	if err == nil && m.WriteBehind {
		p.WriteBehind()
	}
	return p, err
}

// addAlone stores a blob of at least the target size in a pack of its
// own. It runs under m.mu, which it releases while it writes.
func (m *Manager) addAlone(id model.ID, sealed []byte, uncompressedLength int, handoff Handoff) (int, error) {
	p, err := m.newPack()
	if err != nil {
		return 0, err
	}
	m.mu.Unlock()
	n, err := p.Add(id, sealed, uncompressedLength)
	m.mu.Lock()
	switch {
	case err != nil:
		p.Close()
		return 0, err
	case m.closed:
		p.Close()
		return 0, ErrClosed
	}
	if err := handoff(p); err != nil {
		// keep the oversized pack around so it is not lost
		m.keep(p)
		return n, err
	}
	return n + pack.HeaderOverhead, nil
}

// keep stores an oversized pack whose handoff failed in an open slot (or
// merges it) so Flush finds it.
func (m *Manager) keep(p *Packer) {
	for i, o := range m.open {
		if o == nil && !m.busy[i] {
			m.open[i] = p
			return
		}
	}
	m.open = append(m.open, p)
	m.busy = append(m.busy, false)
}

// Flush detaches every open pack and returns them, small ones merged while
// the merged pack stays below the target size (so a small backup does not
// end up with one pack per blob, which would reveal blob sizes). On an
// error every open pack is closed.
func (m *Manager) Flush() ([]*Packer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.waitIdle()
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
	m.freed.Broadcast()
	for i, p := range m.open {
		if p != nil && !m.busy[i] { // a busy pack is closed by its Add
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

// waitIdle waits until no Add is writing to an open pack. It runs under
// m.mu.
func (m *Manager) waitIdle() {
	for slices.Contains(m.busy, true) {
		m.freed.Wait()
	}
}

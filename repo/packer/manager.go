package packer

import (
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
	pool     *Pool

	mu   sync.Mutex
	open []*Packer
}

// NewManager returns a manager for blobs of type t that finishes packs at
// size bytes or maxBlobs blobs (0: as many as a header takes), keeps open
// packs open at once and takes buffers from pool.
func NewManager(t model.BlobType, size, maxBlobs, open int, pool *Pool) *Manager {
	if open < 1 {
		open = 1
	}
	return &Manager{typ: t, size: size, maxBlobs: maxBlobs, pool: pool, open: make([]*Packer, open)}
}

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
	slot := -1
	var p *Packer
	if len(sealed) >= m.size {
		p = New(m.typ, m.pool.Get())
	} else {
		slot = rand.IntN(len(m.open))
		p = m.open[slot]
		if p == nil {
			p = New(m.typ, m.pool.Get())
			m.open[slot] = p
		}
	}
	n := p.Add(id, sealed, uncompressedLength)
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
// end up with one pack per blob, which would reveal blob sizes).
func (m *Manager) Flush() []*Packer {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Packer
	var cur *Packer
	for i, p := range m.open {
		m.open[i] = nil
		if p == nil {
			continue
		}
		switch {
		case cur == nil:
			cur = p
		case cur.Size()+p.Size() < m.size && cur.Count()+p.Count() <= m.maxOrDefault():
			cur.Merge(p)
			m.pool.Put(p.Release())
		default:
			out = append(out, cur)
			cur = p
		}
	}
	if cur != nil {
		out = append(out, cur)
	}
	return out
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

// Pool recycles pack buffers. It keeps at most a fixed number of free
// buffers, so its memory stays bounded.
type Pool struct {
	size int
	free chan []byte
}

// NewPool returns a pool of buffers of initial capacity size that keeps
// up to keep free buffers.
func NewPool(size, keep int) *Pool {
	return &Pool{size: size, free: make(chan []byte, keep)}
}

// Get returns an empty buffer.
func (p *Pool) Get() []byte {
	select {
	case b := <-p.free:
		return b[:0]
	default:
		return make([]byte, 0, p.size)
	}
}

// Drain drops the free buffers.
func (p *Pool) Drain() {
	for {
		select {
		case <-p.free:
		default:
			return
		}
	}
}

// Put gives a buffer back.
func (p *Pool) Put(b []byte) {
	if cap(b) == 0 {
		return
	}
	select {
	case p.free <- b[:0]:
	default:
	}
}

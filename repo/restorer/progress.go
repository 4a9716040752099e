package restorer

import "sync"

// Action is what happened to an item; the values are restic's.
type Action string

// Actions reported through Events.Item.
const (
	ActionDirRestored   Action = "dir restored"
	ActionFileRestored  Action = "file restored"
	ActionFileUpdated   Action = "file updated"
	ActionFileUnchanged Action = "file unchanged"
	ActionOtherRestored Action = "other restored"
	ActionDeleted       Action = "deleted"
)

// State is the restore's progress so far (restic's counters).
type State struct {
	FilesFinished uint64 // items (files, dirs, links, …) completely restored
	FilesTotal    uint64 // items to restore
	FilesSkipped  uint64 // items left as they were
	FilesDeleted  uint64 // items removed by Delete
	BytesWritten  uint64
	BytesTotal    uint64
	BytesSkipped  uint64
}

// progress counts items and bytes and reports finished items. Its methods
// are safe for concurrent use; item is called with the lock held, so the
// reports arrive one at a time.
type progress struct {
	mu       sync.Mutex
	s        State
	inflight map[string]inflight
	item     func(Action, string, uint64)
}

type inflight struct{ written, total uint64 }

func newProgress(item func(Action, string, uint64)) *progress {
	if item == nil {
		item = func(Action, string, uint64) {}
	}
	return &progress{inflight: map[string]inflight{}, item: item}
}

func (p *progress) state() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.s
}

// addFile counts one more item of size bytes to restore.
func (p *progress) addFile(size uint64) {
	p.mu.Lock()
	p.s.FilesTotal++
	p.s.BytesTotal += size
	p.mu.Unlock()
}

// addProgress records n more bytes of an item of total bytes; the item is
// finished when all its bytes are there (at once for total 0).
func (p *progress) addProgress(location string, a Action, n, total uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.inflight[location]
	if !ok {
		e.total = total
	}
	e.written += n
	p.s.BytesWritten += n
	if e.written == e.total {
		delete(p.inflight, location)
		p.s.FilesFinished++
		p.item(a, location, total)
		return
	}
	p.inflight[location] = e
}

func (p *progress) addSkipped(location string, size uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.s.FilesSkipped++
	p.s.BytesSkipped += size
	p.item(ActionFileUnchanged, location, size)
}

func (p *progress) addDeleted(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.s.FilesDeleted++
	p.item(ActionDeleted, path, 0)
}

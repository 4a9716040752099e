// Package bufpool keeps byte buffers for reuse, up to a largest size, for
// work that needs one short-lived buffer per item (a tree to encode or to
// decompress): a fresh buffer each time was a large part of what an
// unchanged backup re-run allocated.
package bufpool

import "sync"

// Pool is a set of free buffers. Its zero value keeps none; set Max.
// It is safe for concurrent use and must not be copied after first use.
type Pool struct {
	// Max is the largest capacity a buffer may have to be kept.
	Max  int
	pool sync.Pool // of *[]byte
}

// Get returns an empty buffer, reused where one is free. Give it back with
// Put once nothing refers to its bytes.
func (p *Pool) Get() *[]byte {
	if bp, ok := p.pool.Get().(*[]byte); ok {
		return bp
	}
	return new([]byte)
}

// Put keeps the buffer bp points to (emptied) for a later Get, unless it
// is larger than Max.
func (p *Pool) Put(bp *[]byte) {
	if cap(*bp) > p.Max {
		return
	}
	*bp = (*bp)[:0]
	p.pool.Put(bp)
}

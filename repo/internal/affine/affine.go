// Package affine lends out a fixed set of values, each to one holder at a
// time, and gives a caller by preference the value last given back on the
// same P (the scheduler's processor, which mostly stays on one CPU).
//
// A value with a large working set, such as a zstd encoder and its match
// tables, works faster on the CPU whose caches still hold it. Lent out
// through a queue, two values taken in turn by two goroutines change CPU
// at almost every loan. On this project's 2-CPU VM, two goroutines that
// compressed the small files of the bench's source-tree corpus through a
// shared klauspost encoder (its states queue in a channel) did 260-295
// MB/s; with each encoder kept to a P this way, 350-460 MB/s.
package affine

import (
	"context"
	"sync"
	"sync/atomic"
)

// Pool lends out its values. The zero Pool is not usable; call New.
type Pool[T any] struct {
	vals []T
	busy []atomic.Bool
	// free holds a token per value not lent out: a holder of a token
	// always finds a value whose busy flag is clear (Put clears the flag
	// before it gives the token back).
	free chan struct{}
	// leases are the Leases given back, kept per P by sync.Pool: the one
	// Get finds names the value last given back on its P.
	leases sync.Pool
	next   atomic.Uint32 // spreads the first loans over the values
}

// A Lease is the loan of one value; give it back with Put.
type Lease struct{ i int }

// New returns a Pool lending out vals (at least one).
func New[T any](vals []T) *Pool[T] {
	if len(vals) == 0 {
		panic("affine: no values")
	}
	p := &Pool[T]{vals: vals, busy: make([]atomic.Bool, len(vals)), free: make(chan struct{}, len(vals))}
	for range vals {
		p.free <- struct{}{}
	}
	return p
}

// Get lends out a value, the one last given back on this P when it is
// free, waiting while all are lent out or until ctx ends.
func (p *Pool[T]) Get(ctx context.Context) (*Lease, T, error) {
	select {
	case <-p.free: // a free value goes out even when ctx has ended
	default:
		select {
		case <-p.free:
		case <-ctx.Done():
			var zero T
			return nil, zero, ctx.Err()
		}
	}
	l, _ := p.leases.Get().(*Lease)
	if l == nil {
		l = &Lease{i: int(p.next.Add(1)-1) % len(p.vals)}
	}
	for i := l.i; ; i = (i + 1) % len(p.vals) {
		if p.busy[i].CompareAndSwap(false, true) {
			l.i = i
			return l, p.vals[i], nil
		}
	}
}

// Put gives a lent value back. The lease must not be used afterwards.
func (p *Pool[T]) Put(l *Lease) {
	p.busy[l.i].Store(false)
	p.free <- struct{}{}
	p.leases.Put(l)
}

// Values returns all the values, lent out or not.
func (p *Pool[T]) Values() []T { return p.vals }

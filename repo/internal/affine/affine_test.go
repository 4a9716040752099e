package affine

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestExclusive: however many goroutines ask, a value is lent to one
// holder at a time, and every loan ends.
func TestExclusive(t *testing.T) {
	const values, workers, rounds = 3, 12, 2000
	holders := make([]atomic.Int32, values)
	vals := make([]int, values)
	for i := range vals {
		vals[i] = i
	}
	p := New(vals)
	var used [values]atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				l, v, err := p.Get(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if n := holders[v].Add(1); n != 1 {
					t.Errorf("value %d has %d holders", v, n)
				}
				used[v].Add(1)
				runtime.Gosched()
				holders[v].Add(-1)
				p.Put(l)
			}
		}()
	}
	wg.Wait()
	var total int64
	for i := range used {
		total += used[i].Load()
	}
	if total != workers*rounds {
		t.Errorf("%d loans, want %d", total, workers*rounds)
	}
	for range values { // all are back
		if _, _, err := p.Get(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSameValueAgain: on one P, a caller that gives a value back and asks
// again gets the same value, while the others are free too (a queue of
// free values would hand out the next one).
func TestSameValueAgain(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops leases at random under the race detector")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // a collection empties sync.Pool
	p := New([]string{"a", "b", "c", "d"})
	l, first, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p.Put(l)
	for i := range 100 {
		l, v, err := p.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if v != first {
			t.Fatalf("loan %d: got %q, want %q again", i, v, first)
		}
		p.Put(l)
	}
	// with the preferred value lent out, another one is lent
	l1, v1, _ := p.Get(context.Background())
	l2, v2, _ := p.Get(context.Background())
	if v1 == v2 {
		t.Errorf("two holders of %q", v1)
	}
	p.Put(l2)
	p.Put(l1)
}

// TestGetWaits: with all values lent out, Get waits for a Put, or ends
// with the context.
func TestGetWaits(t *testing.T) {
	p := New([]int{7})
	l, _, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := p.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with all lent out and a deadline: %v, want the deadline", err)
	}
	got := make(chan int)
	go func() {
		l, v, err := p.Get(context.Background())
		if err != nil {
			t.Error(err)
		}
		p.Put(l)
		got <- v
	}()
	select {
	case v := <-got:
		t.Fatalf("Get returned %d while the value was lent out", v)
	case <-time.After(20 * time.Millisecond):
	}
	p.Put(l)
	select {
	case v := <-got:
		if v != 7 {
			t.Errorf("got %d, want 7", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Get did not return after Put")
	}
}

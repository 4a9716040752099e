package main

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// The soft memory limit during a backup.
//
// The backup's memory is mostly large, reused, pointer-free buffers (read
// blocks, seal buffers, zstd state), so garbage collection costs little,
// but with only GOGC the runtime lets the heap grow to twice the live data
// and keeps freed pages (the key derivation's 32 MiB, buffers replaced by
// larger ones) resident for a long time. Keeping the soft memory limit a
// fixed headroom above what the last collection found live makes the
// runtime collect and return memory to the system promptly, without ever
// setting the limit below the live data (which would make the collector
// run continuously). GOMEMLIMIT in the environment disables it.

// memoryHeadroom is how much the Go runtime may allocate beyond the live
// heap (and its other memory) before it collects.
const memoryHeadroom = 8 << 20

// memoryLimiterPeriod is how often the limit follows the live heap.
const memoryLimiterPeriod = 100 * time.Millisecond

// memoryLimiter is process-wide because the memory limit is: the first of
// concurrent users (in-process tests run backups in parallel) starts it,
// the last one stops it and restores the previous limit.
var memoryLimiter struct {
	mu    sync.Mutex
	users int
	stop  chan struct{}
	done  chan struct{}
	prev  int64
}

// limitMemory starts following the live heap with the soft memory limit
// and returns the function that stops it.
func limitMemory() (release func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	m := &memoryLimiter
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users++
	if m.users == 1 {
		m.stop, m.done = make(chan struct{}), make(chan struct{})
		m.prev = debug.SetMemoryLimit(-1)
		go followLiveHeap(m.stop, m.done)
	}
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.users--
		if m.users == 0 {
			close(m.stop)
			<-m.done
			debug.SetMemoryLimit(m.prev)
		}
	}
}

func followLiveHeap(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
	}
	t := time.NewTicker(memoryLimiterPeriod)
	defer t.Stop()
	for {
		metrics.Read(samples)
		for _, s := range samples {
			if s.Value.Kind() != metrics.KindUint64 {
				return // an unknown metric: leave the limit alone
			}
		}
		live := samples[0].Value.Uint64()
		// stacks, runtime metadata, unused parts of spans
		other := samples[1].Value.Uint64() - samples[2].Value.Uint64() - samples[3].Value.Uint64() - samples[4].Value.Uint64()
		limit := live + other + memoryHeadroom
		if limit > math.MaxInt64 {
			limit = math.MaxInt64
		}
		debug.SetMemoryLimit(int64(limit))
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

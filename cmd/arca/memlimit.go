package main

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// The soft memory limit during a backup, a restore and a check.
//
// The backup's memory is mostly large, reused, pointer-free buffers (read
// blocks, seal buffers, zstd state), so garbage collection costs little,
// but with only GOGC the runtime lets the heap grow to twice the live data
// and keeps freed pages (the key derivation's 32 MiB, buffers replaced by
// larger ones) resident for a long time. A restore and a check decode
// every tree of a snapshot, a restore each twice: there the heap grew to
// twice the trees in memory at once. After every collection the
// limiter sets the soft memory limit a headroom above what that
// collection found live (and again every 100 ms, as the runtime's other
// memory changes), so the runtime collects and returns memory to the
// system promptly. Because the limit is raised right after each
// collection, it never stays below the live data, which would make the
// collector run continuously. GOMEMLIMIT in the environment disables it.

// manageProcessMemory lets run tune the memory of the whole process: the
// limiter during backups, restores and checks, and returnFreeMemory. main
// sets it; in-process callers of run (the tests run many commands in
// parallel in one process) leave it off.
var manageProcessMemory bool

// minMemoryHeadroom is the least the Go runtime may allocate beyond the
// live heap (and its other memory) before it collects, for a restore and
// a check of the structure only; larger heaps get an eighth of their
// size. It was 32 MiB while the pipeline's buffers were
// on the Go heap, where less cost throughput (1 GiB first backup: 1.38x
// restic's at 16 MiB against 1.45x). With them off the heap (package
// offheap) that cost is gone, and what the headroom bounds is the garbage
// of file metadata: index loading, parent trees, many small files.
// Alternating 16 and 8 MiB on this 2-core VM, three runs each: unchanged
// re-run of 131,124 small files 40-42 MiB against 48-49 at the same wall
// time (3-4% more CPU); their first backup 60-61 MiB against 65-69,
// wall 13.8-15.3 s against 13.6-14.2 s, CPU 2-4% more; 1 GiB mixed
// corpus, auto 4.8-5.4 s against 4.9-6.9 s, off 2.6-2.8 s both, max
// 124 MiB against 130, 58 against 61 MiB with auto. (16 against 32 MiB
// earlier: mixed corpus the same, small files 64-65 MiB against 79.)
const minMemoryHeadroom = 8 << 20

// lowMemoryHeadroom replaces minMemoryHeadroom for a backup and a check
// --read-data, whose time it does not change. Once a re-run's garbage was
// halved (426 to 249 MB on an unchanged re-run of /usr), 4 MiB there gave
// 42.1-42.8 MiB of peak RSS against 46.0-46.6 with 8 in the same
// 2.3-2.8 s; the 1 GiB mixed corpus's first backup 54-57 MiB against 59,
// 2.5 s both; check --read-data of /usr 57.4-57.9 MiB against 61.6-62.3
// in 5.4-5.8 s. A
// check of the structure only took 12% longer with it (1.11 s against
// 0.99 s on /usr), a restore of /usr 15% more CPU time, for 1-3 MiB.
const lowMemoryHeadroom = 4 << 20

// memoryLimiterPeriod is how often the limit is also updated between
// collections (the runtime's other memory changes meanwhile).
const memoryLimiterPeriod = 100 * time.Millisecond

// memoryLimiter is process-wide because the memory limit is: the first of
// concurrent users (in-process tests run backups in parallel) starts it,
// the last one stops it and restores the previous limit.
var memoryLimiter struct {
	mu    sync.Mutex
	users int
	prev  int64
	// headroom is the largest that a current user asked for
	headroom uint64
	active   *int // identifies the running limiter; nil when stopped
	// stopTicker ends the running limiter's ticker
	stopTicker func()
}

// limitMemory starts following the live heap with the soft memory limit,
// at least headroom above it, and returns the function that stops it.
func limitMemory(headroom uint64) (release func()) {
	if !manageProcessMemory || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	m := &memoryLimiter
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users++
	m.headroom = max(m.headroom, headroom)
	if m.users == 1 {
		m.prev = debug.SetMemoryLimit(-1)
		id := new(int)
		m.active = id
		setLimitAboveLiveHeap()
		armLimiter(id)
		stop, done := make(chan struct{}), make(chan struct{})
		go tickLimiter(id, stop, done)
		m.stopTicker = func() { close(stop); <-done }
	}
	return func() {
		m.mu.Lock()
		m.users--
		if m.users > 0 {
			m.mu.Unlock()
			return
		}
		m.active = nil
		m.headroom = 0
		debug.SetMemoryLimit(m.prev)
		stopTicker := m.stopTicker
		m.mu.Unlock()
		stopTicker()
	}
}

// tickLimiter updates the limit every memoryLimiterPeriod until stop.
func tickLimiter(id *int, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(memoryLimiterPeriod)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		m := &memoryLimiter
		m.mu.Lock()
		if m.active == id {
			setLimitAboveLiveHeap()
		}
		m.mu.Unlock()
	}
}

// armLimiter arranges for the limit to be updated after the next garbage
// collection (and, re-arming itself, after every one after it) while the
// limiter identified by id runs.
func armLimiter(id *int) {
	runtime.AddCleanup(new([64]byte), func(id *int) {
		m := &memoryLimiter
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.active != id {
			return
		}
		setLimitAboveLiveHeap()
		armLimiter(id)
	}, id)
}

// setLimitAboveLiveHeap sets the soft memory limit to what the last
// collection found live, plus the runtime's other memory, plus headroom.
// The caller holds memoryLimiter.mu.
func setLimitAboveLiveHeap() {
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
	}
	metrics.Read(samples)
	for _, s := range samples {
		if s.Value.Kind() != metrics.KindUint64 {
			return // an unknown metric: leave the limit alone
		}
	}
	live := samples[0].Value.Uint64()
	// stacks, runtime metadata, unused parts of spans
	other := samples[1].Value.Uint64() - samples[2].Value.Uint64() - samples[3].Value.Uint64() - samples[4].Value.Uint64()
	limit := live + other + max(memoryLimiter.headroom, live/8)
	if limit > math.MaxInt64 {
		limit = math.MaxInt64
	}
	debug.SetMemoryLimit(int64(limit))
}

// returnFreeMemory collects garbage and gives the free heap back to the
// system. Commands call it just before the key derivation, whose table
// (16 MiB with restic's usual parameters) is the peak of every short
// command's memory: what opening the backend left behind (the S3 client's
// set-up above all) then no longer adds to that peak (measured: 1 MiB
// less peak RSS for short commands on S3, no change in their time, as
// the heap is small at that moment).
func returnFreeMemory() {
	if manageProcessMemory {
		debug.FreeOSMemory()
	}
}

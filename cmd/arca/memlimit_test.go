package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// waitLimit polls the soft memory limit until ok accepts it.
func waitLimit(t *testing.T, what string, ok func(int64) bool) int64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := debug.SetMemoryLimit(-1)
		if ok(l) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: memory limit %d MiB (live heap %d MiB)", what, l>>20, liveHeap()>>20)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLimitMemory: while a backup runs the soft memory limit sits the
// headroom above the live heap (never below it) and follows it after each
// collection; concurrent users share the limiter, with the largest
// headroom any of them asked for, and the last one restores the previous
// limit. GOMEMLIMIT in the environment turns it off.
func TestLimitMemory(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	const before = 1 << 40
	prev := debug.SetMemoryLimit(before)
	defer debug.SetMemoryLimit(prev)

	// off unless main turned it on
	limitMemory(minMemoryHeadroom)()
	runtime.GC()
	time.Sleep(100 * time.Millisecond)
	if l := debug.SetMemoryLimit(-1); l != before {
		t.Fatalf("limit changed to %d in-process", l)
	}
	manageProcessMemory = true
	defer func() { manageProcessMemory = false }()

	release := limitMemory(lowMemoryHeadroom)
	waitLimit(t, "started", func(l int64) bool {
		live := int64(liveHeap())
		return l != before && l >= live+lowMemoryHeadroom && l < live+live/8+lowMemoryHeadroom+256<<20
	})
	release2 := limitMemory(minMemoryHeadroom)
	memoryLimiter.mu.Lock()
	h := memoryLimiter.headroom
	memoryLimiter.mu.Unlock()
	if h != minMemoryHeadroom {
		t.Fatalf("headroom %d MiB with two users, want the larger, %d MiB", h>>20, minMemoryHeadroom>>20)
	}
	runtime.GC()
	waitLimit(t, "a second user's larger headroom", func(l int64) bool { return l >= int64(liveHeap())+minMemoryHeadroom })
	ballast := make([]byte, 64<<20)
	for i := range ballast {
		ballast[i] = byte(i)
	}
	runtime.GC()
	waitLimit(t, "after the live heap grew", func(l int64) bool { return l >= 64<<20+minMemoryHeadroom })
	runtime.KeepAlive(ballast)

	release()
	if l := debug.SetMemoryLimit(-1); l == before {
		t.Fatal("the first of two users restored the limit")
	}
	release2()
	if l := debug.SetMemoryLimit(-1); l != before {
		t.Fatalf("limit %d after the last user, want the previous %d", l, int64(before))
	}

	t.Setenv("GOMEMLIMIT", "100MiB")
	release = limitMemory(minMemoryHeadroom)
	runtime.GC()
	time.Sleep(100 * time.Millisecond)
	if l := debug.SetMemoryLimit(-1); l != before {
		t.Fatalf("limit changed to %d despite GOMEMLIMIT", l)
	}
	release()
}

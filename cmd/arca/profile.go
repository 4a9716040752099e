//go:build arcaprofile

package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"
)

// startProfiles starts the profiles the environment asks for and returns
// the function that finishes them. Only binaries built with
// `-tags arcaprofile` have them: a binary that can write heap profiles
// keeps the runtime's allocation sampling on, and its tables cost every
// command memory (about 0.4 MiB more peak RSS, measured on short
// commands).
func startProfiles() (stop func()) {
	if p := os.Getenv("ARCA_MEMPROFILE"); p != "" {
		return startMemProfile(p)
	}
	stopCPU, stopTrace := func() {}, func() {}
	if p := os.Getenv("ARCA_CPUPROFILE"); p != "" {
		// for performance work
		stopCPU = startToFile(p, "cpu profile", pprof.StartCPUProfile, pprof.StopCPUProfile)
	}
	if p := os.Getenv("ARCA_TRACE"); p != "" {
		// an execution trace: where a command waits, and for what (with
		// ARCA_CPUPROFILE it also holds the CPU samples, each at its time)
		stopTrace = startToFile(p, "trace", trace.Start, trace.Stop)
	}
	return func() { stopTrace(); stopCPU() }
}

// startToFile creates path and starts writing what to it with start; the
// returned function stops it and closes the file. Failures are reported
// on stderr and leave the command running without it.
func startToFile(path, what string, start func(io.Writer) error, stop func()) func() {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		return func() {}
	}
	if err := start(f); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		f.Close()
		return func() {}
	}
	return func() { stop(); f.Close() }
}

// startMemProfile watches the Go heap while a command runs
// (ARCA_MEMPROFILE, for memory work): whenever the live heap reaches a new
// high (by more than 1 MiB) it writes a heap profile to path, so the file
// ends up describing the allocations at the peak; path+".rss" is the
// same at the peak of the resident set. It also writes the peak figures
// to path+".txt". Call the returned function at the end.
func startMemProfile(path string) func() {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
	}
	var peakObj, peakTotal, peakRSS uint64
	var atPeakRSS string
	all := metrics.All()
	classes := make([]metrics.Sample, 0, len(all))
	for _, d := range all {
		if strings.HasPrefix(d.Name, "/memory/classes/") || d.Name == "/gc/heap/live:bytes" {
			classes = append(classes, metrics.Sample{Name: d.Name})
		}
	}
	write := func(path string) {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mem profile: %v\n", err)
			return
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			fmt.Fprintf(os.Stderr, "mem profile: %v\n", err)
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			metrics.Read(samples)
			obj, total := samples[0].Value.Uint64(), samples[1].Value.Uint64()
			if total > peakTotal {
				peakTotal = total
			}
			if rss := residentBytes(); rss > peakRSS {
				if rss > peakRSS+1<<20 {
					write(path + ".rss")
				}
				peakRSS = rss
				metrics.Read(classes)
				var b strings.Builder
				fmt.Fprintf(&b, "at the peak RSS (%d KiB):\n", rss>>10)
				for _, c := range classes {
					if c.Value.Kind() == metrics.KindUint64 {
						fmt.Fprintf(&b, "  %-50s %8d KiB\n", c.Name, c.Value.Uint64()>>10)
					}
				}
				atPeakRSS = b.String()
			}
			if obj > peakObj+1<<20 {
				peakObj = obj
				write(path)
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		msg := fmt.Sprintf("peak heap objects %d MiB, peak Go memory total %d MiB, NumGC %d\n", peakObj>>20, peakTotal>>20, ms.NumGC) + atPeakRSS
		_ = os.WriteFile(path+".txt", []byte(msg), 0o644)
	}
}

// residentBytes is the process's resident set size, from /proc/self/statm
// (0 where that is missing).
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

package chunker

import (
	"bytes"
	"io"
	"testing"
	"time"

	rc "github.com/restic/chunker"
)

const benchSize = 64 << 20

var benchData []byte

func setupBench(b *testing.B) {
	if benchData == nil {
		benchData = randBytes(99, benchSize)
	}
	b.SetBytes(benchSize)
	b.ResetTimer()
}

// The benchmarks below run on one goroutine (GOMAXPROCS does not matter to
// them) except BenchmarkCutsParallel.

func BenchmarkRestic(b *testing.B) {
	setupBench(b)
	rd := bytes.NewReader(benchData)
	c := rc.New(rd, rc.Pol(testPol))
	buf := make([]byte, MaxSize)
	for b.Loop() {
		rd.Reset(benchData)
		c.Reset(rd, rc.Pol(testPol))
		for {
			if _, err := c.Next(buf); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkNext(b *testing.B) {
	setupBench(b)
	rd := bytes.NewReader(benchData)
	c := New(rd, testPol)
	buf := make([]byte, MaxSize)
	for b.Loop() {
		rd.Reset(benchData)
		c.Reset(rd, testPol)
		for {
			if _, err := c.Next(buf); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkCuts(b *testing.B) {
	tab := mustTable(b, testPol, defaultLimits)
	var cuts []int
	setupBench(b)
	for b.Loop() {
		cuts = tab.Cuts(benchData, true, cuts[:0])
	}
}

func BenchmarkCutsParallel(b *testing.B) {
	tab := mustTable(b, testPol, defaultLimits)
	var cuts []int
	setupBench(b)
	for b.Loop() {
		cuts = tab.CutsParallel(benchData, true, cuts[:0], 0)
	}
}

// BenchmarkScan measures the raw hashing rate (every position hashed).
func BenchmarkScan(b *testing.B) {
	tab := mustTable(b, testPol, defaultLimits)
	tab.lim.mask = 1<<24 - 1 // the widest mask every kernel takes: hardly ever a cut
	setupBench(b)
	for b.Loop() {
		tab.scan(benchData, 64, benchSize)
	}
}

func BenchmarkScanSerial(b *testing.B) {
	tab := mustTable(b, testPol, defaultLimits)
	tab.lim.mask = 1<<63 - 1
	setupBench(b)
	for b.Loop() {
		tab.scanSerial(benchData, 64, benchSize)
	}
}

// BenchmarkRatio runs restic's chunker and Table.Cuts alternately on the
// same input and reports their throughput ratio, which is robust against
// other load on the machine (both see the same conditions).
func BenchmarkRatio(b *testing.B) {
	setupBench(b)
	tab := mustTable(b, testPol, defaultLimits)
	rd := bytes.NewReader(benchData)
	c := rc.New(rd, rc.Pol(testPol))
	buf := make([]byte, MaxSize)
	var cuts []int
	var tr, to time.Duration
	for b.Loop() {
		t0 := time.Now()
		rd.Reset(benchData)
		c.Reset(rd, rc.Pol(testPol))
		for {
			if _, err := c.Next(buf); err == io.EOF {
				break
			}
		}
		t1 := time.Now()
		cuts = tab.Cuts(benchData, true, cuts[:0])
		t2 := time.Now()
		tr += t1.Sub(t0)
		to += t2.Sub(t1)
	}
	b.ReportMetric(float64(tr)/float64(to), "x-restic")
	b.ReportMetric(float64(benchSize)*float64(b.N)/tr.Seconds()/1e6, "restic-MB/s")
	b.ReportMetric(float64(benchSize)*float64(b.N)/to.Seconds()/1e6, "cuts-MB/s")
}

package main

import (
	"math"
	"testing"
	"time"
)

func near(got, want float64) bool { return math.Abs(got-want) <= want/1000 }

func TestRateFollowsRecentSpeed(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	r := newRateEstimator(t0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	// five minutes at 1 MB/s, then four at 10 MB/s
	for s := 0; s < 300; s++ {
		r.add(at(s), 1e6)
	}
	if got := r.rate(at(300)); !near(got, 1e6) {
		t.Fatalf("after the slow part: %.0f B/s, want 1e6", got)
	}
	for s := 300; s < 540; s++ {
		r.add(at(s), 10e6)
	}
	// the average over the whole run would be 5 MB/s; the last two
	// minutes ran at 10
	if got := r.rate(at(540)); !near(got, 10e6) {
		t.Errorf("after the fast part: %.0f B/s, want 1e7", got)
	}
	if n := len(r.buckets); n != 120 {
		t.Errorf("%d buckets kept, want the last 120", n)
	}
}

func TestRateKeepsHistoryOfSlowBursts(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	r := newRateEstimator(t0)
	// a slow link: 1 MB every 30 s for half an hour, less than 100 MB in
	// all, so nothing is forgotten however old
	for s := 30; s <= 1800; s += 30 {
		r.add(t0.Add(time.Duration(s)*time.Second), 1e6)
	}
	if got, want := r.rate(t0.Add(1800*time.Second)), 60e6/1800; !near(got, want) {
		t.Errorf("rate %.0f B/s, want %.0f", got, want)
	}
}

func TestRateKeepsTwentyBuckets(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	r := newRateEstimator(t0)
	// 25 one-second bursts of 50 MB, then an hour of silence: the window
	// shrinks to 20 buckets, not to nothing
	for s := 0; s < 25; s++ {
		r.add(t0.Add(time.Duration(s)*time.Second), 50e6)
	}
	now := t0.Add(time.Hour)
	got := r.rate(now)
	if n := len(r.buckets); n != rateMinBuckets {
		t.Fatalf("%d buckets kept, want %d", n, rateMinBuckets)
	}
	want := 20 * 50e6 / now.Sub(t0.Add(5*time.Second)).Seconds()
	if !near(got, want) {
		t.Errorf("rate %.0f B/s, want %.0f", got, want)
	}
}

func TestRateWithoutTime(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	r := newRateEstimator(t0)
	if got := r.rate(t0); got != 0 {
		t.Errorf("rate at the start: %v, want 0", got)
	}
	r.add(t0, 0)
	if len(r.buckets) != 0 {
		t.Errorf("zero bytes made a bucket")
	}
}

func TestBackupETAUsesRecentRate(t *testing.T) {
	start := time.Now().Add(-10 * time.Minute)
	p := newBackupProgress(nil, start)
	p.scanDone, p.totalBytes = true, 3000e6
	// five minutes at 1 MB/s, then five at 5 MB/s: the whole run's
	// average is 3 MB/s, the last two minutes' 5
	for s := 0; s < 600; s++ {
		n := uint64(1e6)
		if s >= 300 {
			n = 5e6
		}
		p.rate.add(start.Add(time.Duration(s)*time.Second), n)
		p.bytesDone += n
	}
	if got := p.secondsRemaining(); got < 238 || got > 240 {
		t.Errorf("%d s remaining, want 240 (1200 MB at 5 MB/s)", got)
	}
	p.bytesDone = p.totalBytes
	if got := p.secondsRemaining(); got != 0 {
		t.Errorf("%d s remaining when done, want 0", got)
	}
}

package main

import "time"

// rateEstimator measures a backup's recent speed for its ETA, with
// restic's rule: bytes are counted in one-second buckets, and the oldest
// buckets are forgotten once they are more than two minutes old, as long
// as at least 20 buckets and 100 MB stay. A long backup's estimate so
// follows its current speed, while a slow link that reports in bursts
// keeps enough history not to swing from one burst to the next.
type rateEstimator struct {
	start   time.Time // the window's beginning
	bytes   uint64    // counted since start
	buckets []rateBucket
}

// rateBucket holds the bytes counted in the second before end.
type rateBucket struct {
	end   time.Time
	bytes uint64
}

const (
	rateBucketWidth = time.Second
	rateWindow      = 2 * time.Minute
	rateMinBuckets  = 20
	rateMinBytes    = 100 * 1000 * 1000
)

func newRateEstimator(start time.Time) rateEstimator {
	return rateEstimator{start: start}
}

// add counts n bytes done at now; calls must not go back in time.
func (r *rateEstimator) add(now time.Time, n uint64) {
	if n == 0 {
		return
	}
	if len(r.buckets) == 0 || !r.buckets[len(r.buckets)-1].end.After(now) {
		r.buckets = append(r.buckets, rateBucket{end: now.Add(rateBucketWidth)})
	}
	r.buckets[len(r.buckets)-1].bytes += n
	r.bytes += n
	r.forget(now)
}

// forget drops the buckets that have left the window.
func (r *rateEstimator) forget(now time.Time) {
	horizon := now.Add(-rateWindow)
	for len(r.buckets) > rateMinBuckets {
		oldest := r.buckets[0]
		if oldest.end.After(horizon) || r.bytes-oldest.bytes < rateMinBytes {
			return
		}
		r.start, r.bytes = oldest.end, r.bytes-oldest.bytes
		r.buckets = r.buckets[1:]
	}
}

// rate returns the bytes per second over the window, 0 when there is
// no time to measure over.
func (r *rateEstimator) rate(now time.Time) float64 {
	r.forget(now)
	if !r.start.Before(now) {
		return 0
	}
	return float64(r.bytes) / now.Sub(r.start).Seconds()
}

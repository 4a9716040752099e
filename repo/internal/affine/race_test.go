//go:build race

package affine

// raceEnabled: under the race detector sync.Pool drops a random quarter of
// what it is given, so a lease may not come back.
const raceEnabled = true

//go:build race

package crypto

// raceEnabled: the race detector makes x/crypto's scrypt about ten times
// slower, too slow for a calibration at "init"'s parameters.
const raceEnabled = true

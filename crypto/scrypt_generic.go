//go:build !amd64 || purego

package crypto

// roMixLanes runs scrypt's ROMix on every lane (see roMixGeneric).
func roMixLanes(lanes [][]uint32, n, r int) { roMixLanesGeneric(lanes, n, r) }

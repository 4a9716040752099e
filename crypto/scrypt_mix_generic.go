//go:build !amd64

package crypto

// bestMixer is the Go BlockMix, the only one here.
func bestMixer() *mixer { return &genericMixer }

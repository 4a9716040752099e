//go:build !amd64

package crypto

// archMixers are the BlockMix implementations besides the Go one: none.
var archMixers []*mixer

//go:build !amd64

package sha256x

const haveLanes = false

func cpuidSHA() bool { return false }

func blocks4(*[lanes][8]uint32, *[lanes]*byte, int) { panic("sha256x: no lanes here") }
func blocks2(*[lanes][8]uint32, *[lanes]*byte, int) { panic("sha256x: no lanes here") }

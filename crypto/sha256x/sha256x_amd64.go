package sha256x

import "golang.org/x/sys/cpu"

// haveLanes reports whether blocks4 and blocks2 run here: they need the
// SHA extensions and SSSE3. (A variant of blocks4 keeping the message
// schedules in AVX-512's registers X16-X31 instead of on the stack
// measured the same, 3.2 GB/s against crypto/sha256's 1.7 on an AMD EPYC,
// Zen 5: the SHA unit is what limits four lanes.)
var haveLanes = cpuidSHA() && cpu.X86.HasSSSE3

func cpuidSHA() bool

// blocks4 runs n 64-byte blocks through each of the four lane states,
// lane l reading its blocks from p[l] on (sha256x_amd64.s). blocks2 does
// the same for lanes 0 and 1 only.
//
//go:noescape
func blocks4(state *[lanes][8]uint32, p *[lanes]*byte, n int)

//go:noescape
func blocks2(state *[lanes][8]uint32, p *[lanes]*byte, n int)

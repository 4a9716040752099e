package chunker

import "golang.org/x/sys/cpu"

// haveLanes64 reports whether the CPU runs the 64-lane kernel: AVX-512
// (F, BW, VBMI for the byte permutation) and GFNI, with the system saving
// the AVX-512 registers. Set once at package init.
var haveLanes64 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VBMI && cpu.X86.HasAVX512GFNI

// transpose64 writes blocks·64 vectors of 64 bytes to dst: byte l of vector
// s is src[l·stride + s]. It uses scratch for intermediate tiles.
//
//go:noescape
func transpose64(src *byte, stride int, blocks int, dst *byte, scratch *[4096]byte)

// hash64 advances 64 byte-sliced digests (planes) by up to groups·8 steps;
// step s takes in buf[64·(s+64):][:64] and drops buf[64·s:][:64]. It stops
// after the first group of eight steps in which some lane's digest had the
// mask bits clear and returns the groups done and, for that group, the
// lanes that did (bit l for lane l; 0 when no group did).
//
//go:noescape
func hash64(v *vecTable, buf *byte, groups int, planes *[7][64]byte, mask uint64) (done int, hits uint64)

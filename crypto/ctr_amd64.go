package crypto

import "golang.org/x/sys/cpu"

// haveVAES reports whether the CPU and the OS support the VAES counter
// mode: AES-NI for the key expansion, AVX-512 (F for the ZMM registers
// and masks, BW for VPSHUFB on ZMM) and VAES. x/sys/cpu sets the AVX-512
// flags only when the OS saves the ZMM and mask registers.
var haveVAES = cpu.X86.HasAES && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VAES

// expandKey256 writes the 15 AES-256 round keys of key.
//
//go:noescape
func expandKey256(keys *roundKeys, key *[32]byte)

// ctrBlocksVAES XORs the keystream of blocks counter blocks into dst from
// src, starting at the counter (low, high) in ctr, which it does not
// advance. The low word must not wrap within the call.
//
//go:noescape
func ctrBlocksVAES(keys *roundKeys, dst, src *byte, blocks int, ctr *[2]uint64)

// ctrBlocks is ctrBlocksVAES on slices of at least blocks·16 bytes.
func ctrBlocks(keys *roundKeys, dst, src []byte, blocks int, ctr *[2]uint64) {
	if blocks <= 0 {
		return
	}
	n := blocks * blockSize
	if len(dst) < n || len(src) < n {
		panic("crypto: CTR buffers shorter than their blocks")
	}
	ctrBlocksVAES(keys, &dst[0], &src[0], blocks, ctr)
}

//go:build amd64

// Sixty-four-lane rolling Rabin fingerprint with AVX-512 and GFNI.
//
// The 64 lanes are 64 segments of the input. transpose64 rearranges them
// so that the bytes every lane takes in at one step form one 64-byte
// vector; hash64 then advances all 64 digests by one byte per step.
//
// A digest (less than 2^53) is kept byte-sliced: plane j is a vector
// holding byte j of every lane's digest, planes 0..6. One step of
//
//	d' = (d<<8 | in) ^ mod[t] ^ out[o],   t = d >> (deg-8)
//
// moves plane j to plane j+1 (plane 6 drops out: mod[t] cancels those
// bits), puts in into plane 0 and xors in mod[t] and out[o] plane by
// plane. mod and out are linear over GF(2) in their index, and so is t in
// planes 5 and 6 (degrees 48..53), so each is a GF2P8AFFINEQB with an 8x8
// bit matrix (vecTable, built by Table.initVec): t from planes 5 and 6,
// then byte j of mod[t] and of out[o] for every plane j. The planes rotate
// through Z0..Z7 instead of moving: eight steps bring them back.

#include "textflag.h"

// vecTable layout: matrices at 0 (t from plane 5, from plane 6), 16 (mod,
// planes 0..6), 72 (out, planes 0..6).

// STEP advances the digests by one step whose out-bytes are at off(BX)
// and in-bytes at off+4096(BX). Q0..Q6 hold planes 0..6 and F is free;
// afterwards F holds plane 0, Q0..Q5 planes 1..6, and Q6 is free. The
// lanes whose digest has the mask bits (Z13..Z15, planes 0..2) clear are
// added to K4.
#define STEP(off, F, Q0, Q1, Q2, Q3, Q4, Q5, Q6) \
	VMOVDQU64 (off+4096)(BX), F; \
	VMOVDQU64 off(BX), Z9; \
	VGF2P8AFFINEQB.BCST $0, 0(DI), Q5, Z10; \
	VGF2P8AFFINEQB.BCST $0, 8(DI), Q6, Z11; \
	VPXORQ Z11, Z10, Z10; \
	VGF2P8AFFINEQB.BCST $0, 16(DI), Z10, Z11; \
	VGF2P8AFFINEQB.BCST $0, 72(DI), Z9, Z12; \
	VPTERNLOGQ $0x96, Z12, Z11, F; \
	VGF2P8AFFINEQB.BCST $0, 24(DI), Z10, Z11; \
	VGF2P8AFFINEQB.BCST $0, 80(DI), Z9, Z12; \
	VPTERNLOGQ $0x96, Z12, Z11, Q0; \
	VGF2P8AFFINEQB.BCST $0, 32(DI), Z10, Z11; \
	VGF2P8AFFINEQB.BCST $0, 88(DI), Z9, Z12; \
	VPTERNLOGQ $0x96, Z12, Z11, Q1; \
	VGF2P8AFFINEQB.BCST $0, 40(DI), Z10, Z11; \
	VGF2P8AFFINEQB.BCST $0, 96(DI), Z9, Z12; \
	VPTERNLOGQ $0x96, Z12, Z11, Q2; \
	VGF2P8AFFINEQB.BCST $0, 48(DI), Z10, Z11; \
	VGF2P8AFFINEQB.BCST $0, 104(DI), Z9, Z12; \
	VPTERNLOGQ $0x96, Z12, Z11, Q3; \
	VGF2P8AFFINEQB.BCST $0, 56(DI), Z10, Z11; \
	VGF2P8AFFINEQB.BCST $0, 112(DI), Z9, Z12; \
	VPTERNLOGQ $0x96, Z12, Z11, Q4; \
	VGF2P8AFFINEQB.BCST $0, 64(DI), Z10, Z11; \
	VGF2P8AFFINEQB.BCST $0, 120(DI), Z9, Z12; \
	VPTERNLOGQ $0x96, Z12, Z11, Q5; \
	VPTESTNMB Z13, F, K1; \
	VPTESTNMB Z14, Q0, K1, K2; \
	VPTESTNMB Z15, Q1, K2, K3; \
	KORQ K3, K4, K4

// func hash64(v *vecTable, buf *byte, groups int, planes *[7][64]byte, mask uint64) (done int, hits uint64)
TEXT ·hash64(SB), NOSPLIT, $0-56
	MOVQ v+0(FP), DI
	MOVQ buf+8(FP), BX
	MOVQ groups+16(FP), CX
	MOVQ planes+24(FP), SI
	MOVQ mask+32(FP), AX
	VPBROADCASTB AX, Z13
	SHRQ $8, AX
	VPBROADCASTB AX, Z14
	SHRQ $8, AX
	VPBROADCASTB AX, Z15
	VMOVDQU64 0(SI), Z0
	VMOVDQU64 64(SI), Z1
	VMOVDQU64 128(SI), Z2
	VMOVDQU64 192(SI), Z3
	VMOVDQU64 256(SI), Z4
	VMOVDQU64 320(SI), Z5
	VMOVDQU64 384(SI), Z6
	XORQ DX, DX
	KXORQ K4, K4, K4
	TESTQ CX, CX
	JE hash64_done
hash64_loop:
	STEP(0, Z7, Z0, Z1, Z2, Z3, Z4, Z5, Z6)
	STEP(64, Z6, Z7, Z0, Z1, Z2, Z3, Z4, Z5)
	STEP(128, Z5, Z6, Z7, Z0, Z1, Z2, Z3, Z4)
	STEP(192, Z4, Z5, Z6, Z7, Z0, Z1, Z2, Z3)
	STEP(256, Z3, Z4, Z5, Z6, Z7, Z0, Z1, Z2)
	STEP(320, Z2, Z3, Z4, Z5, Z6, Z7, Z0, Z1)
	STEP(384, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z0)
	STEP(448, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	INCQ DX
	ADDQ $512, BX
	KORTESTQ K4, K4
	JNE hash64_done
	CMPQ DX, CX
	JB hash64_loop
hash64_done:
	VMOVDQU64 Z0, 0(SI)
	VMOVDQU64 Z1, 64(SI)
	VMOVDQU64 Z2, 128(SI)
	VMOVDQU64 Z3, 192(SI)
	VMOVDQU64 Z4, 256(SI)
	VMOVDQU64 Z5, 320(SI)
	VMOVDQU64 Z6, 384(SI)
	KMOVQ K4, AX
	MOVQ DX, done+40(FP)
	MOVQ AX, hits+48(FP)
	VZEROUPPER
	RET

// transposePerm turns a vector of eight qwords (one per lane, byte j the
// lane's step j) into one of eight qwords per step (byte q lane q).
DATA ·transposePerm+0(SB)/8, $0x3830282018100800
DATA ·transposePerm+8(SB)/8, $0x3931292119110901
DATA ·transposePerm+16(SB)/8, $0x3a322a221a120a02
DATA ·transposePerm+24(SB)/8, $0x3b332b231b130b03
DATA ·transposePerm+32(SB)/8, $0x3c342c241c140c04
DATA ·transposePerm+40(SB)/8, $0x3d352d251d150d05
DATA ·transposePerm+48(SB)/8, $0x3e362e261e160e06
DATA ·transposePerm+56(SB)/8, $0x3f372f271f170f07
GLOBL ·transposePerm(SB), RODATA|NOPTR, $64

// QTRANSPOSE8 transposes eight vectors as an 8x8 matrix of qwords: Z8+j
// gets qword j of each of Z0..Z7 (qword i from Zi). Z0..Z7 are clobbered.
#define QTRANSPOSE8 \
	VPUNPCKLQDQ Z1, Z0, Z8; \
	VPUNPCKHQDQ Z1, Z0, Z9; \
	VPUNPCKLQDQ Z3, Z2, Z10; \
	VPUNPCKHQDQ Z3, Z2, Z11; \
	VPUNPCKLQDQ Z5, Z4, Z12; \
	VPUNPCKHQDQ Z5, Z4, Z13; \
	VPUNPCKLQDQ Z7, Z6, Z14; \
	VPUNPCKHQDQ Z7, Z6, Z15; \
	VSHUFI64X2 $0x88, Z10, Z8, Z0; \
	VSHUFI64X2 $0xdd, Z10, Z8, Z2; \
	VSHUFI64X2 $0x88, Z11, Z9, Z1; \
	VSHUFI64X2 $0xdd, Z11, Z9, Z3; \
	VSHUFI64X2 $0x88, Z14, Z12, Z4; \
	VSHUFI64X2 $0xdd, Z14, Z12, Z6; \
	VSHUFI64X2 $0x88, Z15, Z13, Z5; \
	VSHUFI64X2 $0xdd, Z15, Z13, Z7; \
	VSHUFI64X2 $0x88, Z4, Z0, Z8; \
	VSHUFI64X2 $0xdd, Z4, Z0, Z12; \
	VSHUFI64X2 $0x88, Z5, Z1, Z9; \
	VSHUFI64X2 $0xdd, Z5, Z1, Z13; \
	VSHUFI64X2 $0x88, Z6, Z2, Z10; \
	VSHUFI64X2 $0xdd, Z6, Z2, Z14; \
	VSHUFI64X2 $0x88, Z7, Z3, Z11; \
	VSHUFI64X2 $0xdd, Z7, Z3, Z15

// func transpose64(src *byte, stride int, blocks int, dst *byte, scratch *[4096]byte)
//
// For each block h of 64 steps it writes 64 vectors of 64 bytes to dst:
// byte l of vector 64h+s is src[l·stride + 64h + s]. Eight lanes' 64
// bytes are loaded at a time and cut into 8x8-byte tiles (a qword
// transpose, then a byte permutation within each qword); the tiles go to
// scratch, and eight tiles of the same eight steps are then joined into
// their step vectors (a second qword transpose).
TEXT ·transpose64(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ stride+8(FP), R10
	MOVQ blocks+16(FP), CX
	MOVQ dst+24(FP), DI
	MOVQ scratch+32(FP), DX
	VMOVDQU64 ·transposePerm(SB), Z17
	TESTQ CX, CX
	JE transpose64_done
transpose64_block:
	// tiles: scratch[r·512 + i·64], qword j = step 8r+j of lanes 8i..8i+7
	MOVQ SI, R8
	XORQ BX, BX
transpose64_tiles:
	MOVQ R8, R9
	VMOVDQU64 (R9), Z0
	ADDQ R10, R9
	VMOVDQU64 (R9), Z1
	ADDQ R10, R9
	VMOVDQU64 (R9), Z2
	ADDQ R10, R9
	VMOVDQU64 (R9), Z3
	ADDQ R10, R9
	VMOVDQU64 (R9), Z4
	ADDQ R10, R9
	VMOVDQU64 (R9), Z5
	ADDQ R10, R9
	VMOVDQU64 (R9), Z6
	ADDQ R10, R9
	VMOVDQU64 (R9), Z7
	ADDQ R10, R9
	MOVQ R9, R8
	QTRANSPOSE8
	VPERMB Z8, Z17, Z8
	VPERMB Z9, Z17, Z9
	VPERMB Z10, Z17, Z10
	VPERMB Z11, Z17, Z11
	VPERMB Z12, Z17, Z12
	VPERMB Z13, Z17, Z13
	VPERMB Z14, Z17, Z14
	VPERMB Z15, Z17, Z15
	VMOVDQU64 Z8, 0(DX)(BX*1)
	VMOVDQU64 Z9, 512(DX)(BX*1)
	VMOVDQU64 Z10, 1024(DX)(BX*1)
	VMOVDQU64 Z11, 1536(DX)(BX*1)
	VMOVDQU64 Z12, 2048(DX)(BX*1)
	VMOVDQU64 Z13, 2560(DX)(BX*1)
	VMOVDQU64 Z14, 3072(DX)(BX*1)
	VMOVDQU64 Z15, 3584(DX)(BX*1)
	ADDQ $64, BX
	CMPQ BX, $512
	JB transpose64_tiles
	// steps: vector 8r+j gets qword j of the tiles of row r
	XORQ BX, BX
transpose64_steps:
	VMOVDQU64 0(DX)(BX*1), Z0
	VMOVDQU64 64(DX)(BX*1), Z1
	VMOVDQU64 128(DX)(BX*1), Z2
	VMOVDQU64 192(DX)(BX*1), Z3
	VMOVDQU64 256(DX)(BX*1), Z4
	VMOVDQU64 320(DX)(BX*1), Z5
	VMOVDQU64 384(DX)(BX*1), Z6
	VMOVDQU64 448(DX)(BX*1), Z7
	QTRANSPOSE8
	VMOVDQU64 Z8, 0(DI)
	VMOVDQU64 Z9, 64(DI)
	VMOVDQU64 Z10, 128(DI)
	VMOVDQU64 Z11, 192(DI)
	VMOVDQU64 Z12, 256(DI)
	VMOVDQU64 Z13, 320(DI)
	VMOVDQU64 Z14, 384(DI)
	VMOVDQU64 Z15, 448(DI)
	ADDQ $512, DI
	ADDQ $512, BX
	CMPQ BX, $4096
	JB transpose64_steps
	ADDQ $64, SI
	DECQ CX
	JNE transpose64_block
transpose64_done:
	VZEROUPPER
	RET

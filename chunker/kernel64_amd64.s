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

// func transpose64(src *byte, stride int, groups int, dst *byte, idx *[8]int64)
//
// For each group g of eight steps it writes eight 64-byte vectors to dst:
// byte l of vector j is src[l·stride + 8g + j].
TEXT ·transpose64(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ stride+8(FP), R9
	SHLQ $3, R9 // eight lanes
	MOVQ groups+16(FP), CX
	MOVQ dst+24(FP), DI
	MOVQ idx+32(FP), AX
	VMOVDQU64 (AX), Z16
	VMOVDQU64 ·transposePerm(SB), Z17
	TESTQ CX, CX
	JE transpose64_done
transpose64_loop:
	// A_i: lanes 8i..8i+7, eight steps each, then regrouped by step
	MOVQ SI, R8
	KXNORB K1, K1, K1
	VPGATHERQQ (R8)(Z16*1), K1, Z0
	ADDQ R9, R8
	KXNORB K1, K1, K1
	VPGATHERQQ (R8)(Z16*1), K1, Z1
	ADDQ R9, R8
	KXNORB K1, K1, K1
	VPGATHERQQ (R8)(Z16*1), K1, Z2
	ADDQ R9, R8
	KXNORB K1, K1, K1
	VPGATHERQQ (R8)(Z16*1), K1, Z3
	ADDQ R9, R8
	KXNORB K1, K1, K1
	VPGATHERQQ (R8)(Z16*1), K1, Z4
	ADDQ R9, R8
	KXNORB K1, K1, K1
	VPGATHERQQ (R8)(Z16*1), K1, Z5
	ADDQ R9, R8
	KXNORB K1, K1, K1
	VPGATHERQQ (R8)(Z16*1), K1, Z6
	ADDQ R9, R8
	KXNORB K1, K1, K1
	VPGATHERQQ (R8)(Z16*1), K1, Z7
	VPERMB Z0, Z17, Z0
	VPERMB Z1, Z17, Z1
	VPERMB Z2, Z17, Z2
	VPERMB Z3, Z17, Z3
	VPERMB Z4, Z17, Z4
	VPERMB Z5, Z17, Z5
	VPERMB Z6, Z17, Z6
	VPERMB Z7, Z17, Z7
	// 8x8 qword transpose: vector j gets qword j of every A_i
	VPUNPCKLQDQ Z1, Z0, Z8
	VPUNPCKHQDQ Z1, Z0, Z9
	VPUNPCKLQDQ Z3, Z2, Z10
	VPUNPCKHQDQ Z3, Z2, Z11
	VPUNPCKLQDQ Z5, Z4, Z12
	VPUNPCKHQDQ Z5, Z4, Z13
	VPUNPCKLQDQ Z7, Z6, Z14
	VPUNPCKHQDQ Z7, Z6, Z15
	VSHUFI64X2 $0x88, Z10, Z8, Z0
	VSHUFI64X2 $0xdd, Z10, Z8, Z2
	VSHUFI64X2 $0x88, Z11, Z9, Z1
	VSHUFI64X2 $0xdd, Z11, Z9, Z3
	VSHUFI64X2 $0x88, Z14, Z12, Z4
	VSHUFI64X2 $0xdd, Z14, Z12, Z6
	VSHUFI64X2 $0x88, Z15, Z13, Z5
	VSHUFI64X2 $0xdd, Z15, Z13, Z7
	VSHUFI64X2 $0x88, Z4, Z0, Z8
	VSHUFI64X2 $0xdd, Z4, Z0, Z12
	VSHUFI64X2 $0x88, Z5, Z1, Z9
	VSHUFI64X2 $0xdd, Z5, Z1, Z13
	VSHUFI64X2 $0x88, Z6, Z2, Z10
	VSHUFI64X2 $0xdd, Z6, Z2, Z14
	VSHUFI64X2 $0x88, Z7, Z3, Z11
	VSHUFI64X2 $0xdd, Z7, Z3, Z15
	VMOVDQU64 Z8, 0(DI)
	VMOVDQU64 Z9, 64(DI)
	VMOVDQU64 Z10, 128(DI)
	VMOVDQU64 Z11, 192(DI)
	VMOVDQU64 Z12, 256(DI)
	VMOVDQU64 Z13, 320(DI)
	VMOVDQU64 Z14, 384(DI)
	VMOVDQU64 Z15, 448(DI)
	ADDQ $8, SI
	ADDQ $512, DI
	DECQ CX
	JNE transpose64_loop
transpose64_done:
	VZEROUPPER
	RET

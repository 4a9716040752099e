#include "textflag.h"

// Poly1305 over chunks of 16·lanes bytes, one block a lane (see
// poly1305_amd64.go), in AVX2 (4 lanes) or AVX-512 (8 lanes) registers.
// Every 64-bit lane holds one 26-bit limb of one lane's accumulator:
// V0..V4 are limbs 0..4 of h, V5..V9 the limbs of the product being
// formed. A multiplier's limbs r0..r4 and 5·r1..5·r4 come from a table
// of nine rows (64 bytes a row; AVX2 uses the first 32). 5·r folds the
// columns above 2^130 back in, as 2^130 = 5 mod 2^130-5:
//
//	d0 = h0 r0 + h1 5r4 + h2 5r3 + h3 5r2 + h4 5r1
//	d1 = h0 r1 + h1 r0  + h2 5r4 + h3 5r3 + h4 5r2
//	d2 = h0 r2 + h1 r1  + h2 r0  + h3 5r4 + h4 5r3
//	d3 = h0 r3 + h1 r2  + h2 r1  + h3 r0  + h4 5r4
//	d4 = h0 r4 + h1 r3  + h2 r2  + h3 r1  + h4 r0
//
// Limbs of h stay below 2^26 + 2^10 after the carries, below 2^27.1 with
// a message block added, and the multipliers' below 2^27, so every
// column is below 5·2^27.1·5·2^27 < 2^60.
//
// After the last chunk each lane is multiplied once more, by its own
// power of r from a second table, so that the lanes only need adding up.

// MULTIPLY: V5..V9 = V0..V4 · (r0..r4, s1..s4), through tmp.
#define MULTIPLY(VPMUL, VPADD, tmp, r0, r1, r2, r3, r4, s1, s2, s3, s4, h0, h1, h2, h3, h4, d0, d1, d2, d3, d4) \
	VPMUL r0, h0, d0; \
	VPMUL r1, h0, d1; \
	VPMUL r2, h0, d2; \
	VPMUL r3, h0, d3; \
	VPMUL r4, h0, d4; \
	VPMUL s4, h1, tmp; VPADD tmp, d0, d0; \
	VPMUL r0, h1, tmp; VPADD tmp, d1, d1; \
	VPMUL r1, h1, tmp; VPADD tmp, d2, d2; \
	VPMUL r2, h1, tmp; VPADD tmp, d3, d3; \
	VPMUL r3, h1, tmp; VPADD tmp, d4, d4; \
	VPMUL s3, h2, tmp; VPADD tmp, d0, d0; \
	VPMUL s4, h2, tmp; VPADD tmp, d1, d1; \
	VPMUL r0, h2, tmp; VPADD tmp, d2, d2; \
	VPMUL r1, h2, tmp; VPADD tmp, d3, d3; \
	VPMUL r2, h2, tmp; VPADD tmp, d4, d4; \
	VPMUL s2, h3, tmp; VPADD tmp, d0, d0; \
	VPMUL s3, h3, tmp; VPADD tmp, d1, d1; \
	VPMUL s4, h3, tmp; VPADD tmp, d2, d2; \
	VPMUL r0, h3, tmp; VPADD tmp, d3, d3; \
	VPMUL r1, h3, tmp; VPADD tmp, d4, d4; \
	VPMUL s1, h4, tmp; VPADD tmp, d0, d0; \
	VPMUL s2, h4, tmp; VPADD tmp, d1, d1; \
	VPMUL s3, h4, tmp; VPADD tmp, d2, d2; \
	VPMUL s4, h4, tmp; VPADD tmp, d3, d3; \
	VPMUL r0, h4, tmp; VPADD tmp, d4, d4

// ADDBLOCKS: d0..d4 += the limbs of the blocks whose low quadwords are in
// lo and high quadwords in hi; mask is 2^26-1, hibit 2^24 (the 2^128 bit
// of a full block) in every lane.
#define ADDBLOCKS(AND, OR, lo, hi, t, u, mask, hibit, d0, d1, d2, d3, d4) \
	AND mask, lo, t; \
	VPADDQ t, d0, d0; \
	VPSRLQ $26, lo, t; \
	AND mask, t, t; \
	VPADDQ t, d1, d1; \
	VPSRLQ $52, lo, t; \
	VPSLLQ $12, hi, u; \
	OR u, t, t; \
	AND mask, t, t; \
	VPADDQ t, d2, d2; \
	VPSRLQ $14, hi, t; \
	AND mask, t, t; \
	VPADDQ t, d3, d3; \
	VPSRLQ $40, hi, t; \
	OR hibit, t, t; \
	VPADDQ t, d4, d4

// CARRY: move the bits of a above 26 into b, through t.
#define CARRY(AND, t, mask, a, b) \
	VPSRLQ $26, a, t; \
	AND mask, a, a; \
	VPADDQ t, b, b

// REDUCE: carry d0..d4 back to 26 bits, two chains interleaved, the top
// limb's carry re-entering limb 0 times 5.
#define REDUCE(AND, t, mask, d0, d1, d2, d3, d4) \
	CARRY(AND, t, mask, d0, d1); \
	CARRY(AND, t, mask, d3, d4); \
	CARRY(AND, t, mask, d1, d2); \
	VPSRLQ $26, d4, t; \
	AND mask, d4, d4; \
	VPADDQ t, d0, d0; \
	VPSLLQ $2, t, t; \
	VPADDQ t, d0, d0; \
	CARRY(AND, t, mask, d2, d3); \
	CARRY(AND, t, mask, d0, d1); \
	CARRY(AND, t, mask, d3, d4)

#define AVX2_MULTIPLY(T) MULTIPLY(VPMULUDQ, VPADDQ, Y14, 0(T), 64(T), 128(T), 192(T), 256(T), 320(T), 384(T), 448(T), 512(T), Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9)
#define AVX2_REDUCE REDUCE(VPAND, Y14, Y12, Y5, Y6, Y7, Y8, Y9)

// func polyBlocksAVX2(h *polyLaneState, msg *byte, chunks int, rk, rlast *polyTable)
TEXT ·polyBlocksAVX2(SB), NOSPLIT, $0-40
	MOVQ h+0(FP), DI
	MOVQ msg+8(FP), SI
	MOVQ chunks+16(FP), CX
	MOVQ rk+24(FP), R8
	MOVQ rlast+32(FP), R9

	VMOVDQU 0(DI), Y0
	VMOVDQU 64(DI), Y1
	VMOVDQU 128(DI), Y2
	VMOVDQU 192(DI), Y3
	VMOVDQU 256(DI), Y4

	VPCMPEQQ Y12, Y12, Y12
	VPSRLQ $63, Y12, Y13
	VPSLLQ $24, Y13, Y13 // 2^24
	VPSRLQ $38, Y12, Y12 // 2^26-1

	TESTQ CX, CX
	JZ done2

loop2:
	AVX2_MULTIPLY(R8)

	// Unpacking the quadwords of blocks 0,1 and 2,3 gives the lanes
	// blocks 0, 2, 1, 3: Y10 their low halves, Y11 their high halves.
	VMOVDQU 0(SI), Y14
	VMOVDQU 32(SI), Y15
	VPUNPCKLQDQ Y15, Y14, Y10
	VPUNPCKHQDQ Y15, Y14, Y11
	ADDBLOCKS(VPAND, VPOR, Y10, Y11, Y14, Y15, Y12, Y13, Y5, Y6, Y7, Y8, Y9)
	AVX2_REDUCE

	VMOVDQA Y5, Y0
	VMOVDQA Y6, Y1
	VMOVDQA Y7, Y2
	VMOVDQA Y8, Y3
	VMOVDQA Y9, Y4

	ADDQ $64, SI
	DECQ CX
	JNZ loop2

	AVX2_MULTIPLY(R9)
	AVX2_REDUCE
	VMOVDQA Y5, Y0
	VMOVDQA Y6, Y1
	VMOVDQA Y7, Y2
	VMOVDQA Y8, Y3
	VMOVDQA Y9, Y4

done2:
	VMOVDQU Y0, 0(DI)
	VMOVDQU Y1, 64(DI)
	VMOVDQU Y2, 128(DI)
	VMOVDQU Y3, 192(DI)
	VMOVDQU Y4, 256(DI)
	VZEROUPPER
	RET

// The AVX-512 version keeps the multiplier in Z16..Z24.
#define AVX512_MULTIPLY MULTIPLY(VPMULUDQ, VPADDQ, Z14, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9)
#define AVX512_REDUCE REDUCE(VPANDQ, Z14, Z12, Z5, Z6, Z7, Z8, Z9)

#define AVX512_LOADTABLE(T) \
	VMOVDQU64 0(T), Z16; \
	VMOVDQU64 64(T), Z17; \
	VMOVDQU64 128(T), Z18; \
	VMOVDQU64 192(T), Z19; \
	VMOVDQU64 256(T), Z20; \
	VMOVDQU64 320(T), Z21; \
	VMOVDQU64 384(T), Z22; \
	VMOVDQU64 448(T), Z23; \
	VMOVDQU64 512(T), Z24

// func polyBlocksAVX512(h *polyLaneState, msg *byte, chunks int, rk, rlast *polyTable)
TEXT ·polyBlocksAVX512(SB), NOSPLIT, $0-40
	MOVQ h+0(FP), DI
	MOVQ msg+8(FP), SI
	MOVQ chunks+16(FP), CX
	MOVQ rk+24(FP), R8
	MOVQ rlast+32(FP), R9

	VMOVDQU64 0(DI), Z0
	VMOVDQU64 64(DI), Z1
	VMOVDQU64 128(DI), Z2
	VMOVDQU64 192(DI), Z3
	VMOVDQU64 256(DI), Z4

	VPTERNLOGD $0xff, Z12, Z12, Z12
	VPSRLQ $63, Z12, Z13
	VPSLLQ $24, Z13, Z13 // 2^24
	VPSRLQ $38, Z12, Z12 // 2^26-1

	TESTQ CX, CX
	JZ done512

	AVX512_LOADTABLE(R8)

loop512:
	AVX512_MULTIPLY

	// Unpacking the quadwords of blocks 0..3 and 4..7 gives the lanes
	// blocks 0, 4, 1, 5, 2, 6, 3, 7.
	VMOVDQU64 0(SI), Z14
	VMOVDQU64 64(SI), Z15
	VPUNPCKLQDQ Z15, Z14, Z10
	VPUNPCKHQDQ Z15, Z14, Z11
	ADDBLOCKS(VPANDQ, VPORQ, Z10, Z11, Z14, Z15, Z12, Z13, Z5, Z6, Z7, Z8, Z9)
	AVX512_REDUCE

	VMOVDQA64 Z5, Z0
	VMOVDQA64 Z6, Z1
	VMOVDQA64 Z7, Z2
	VMOVDQA64 Z8, Z3
	VMOVDQA64 Z9, Z4

	ADDQ $128, SI
	DECQ CX
	JNZ loop512

	AVX512_LOADTABLE(R9)
	AVX512_MULTIPLY
	AVX512_REDUCE
	VMOVDQA64 Z5, Z0
	VMOVDQA64 Z6, Z1
	VMOVDQA64 Z7, Z2
	VMOVDQA64 Z8, Z3
	VMOVDQA64 Z9, Z4

done512:
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	VMOVDQU64 Z3, 192(DI)
	VMOVDQU64 Z4, 256(DI)
	VZEROUPPER
	RET

// The IFMA version works in radix 2^44: h = h0 + h1·2^44 + h2·2^88 with
// limbs of 44, 44 and 42 bits (rows 0..2 of the lane state), and the
// multiplier r0, r1, r2, 20·r1, 20·r2 in rows 0..4 of a table. As
// 2^132 = 4·2^130 = 20 mod 2^130-5, the columns are
//
//	d0 = h0 r0 + h1 20r2 + h2 20r1
//	d1 = h0 r1 + h1 r0   + h2 20r2
//	d2 = h0 r2 + h1 r1   + h2 r0
//
// VPMADD52LUQ adds the low 52 bits of a 52x52-bit product and
// VPMADD52HUQ the high 52, so every column is kept as two sums: lo (Z3,
// Z4, Z5, starting from the message block's limbs) and hi (Z6, Z7, Z8),
// the column being lo + hi·2^52. The carry out of a 44-bit column is thus
// lo>>44 + hi<<8, out of the 42-bit top one lo>>42 + hi<<10, and that
// one re-enters limb 0 times 5. Reduced limbs are below 2^44 (limb 1
// below 2^44 + 2^8), table entries below 2^49, so every input of a
// multiplication fits its 52 bits and no sum overflows 64 bits.

#define IFMA_TERM(r, h, lo, hi) \
	VPMADD52LUQ r, h, lo; \
	VPMADD52HUQ r, h, hi

// IFMA_MULTIPLY: Z3..Z8 += Z0..Z2 · (Z16..Z20), Z6..Z8 starting at zero.
#define IFMA_MULTIPLY \
	VPXORQ Z6, Z6, Z6; \
	VPXORQ Z7, Z7, Z7; \
	VPXORQ Z8, Z8, Z8; \
	IFMA_TERM(Z16, Z0, Z3, Z6); \
	IFMA_TERM(Z17, Z0, Z4, Z7); \
	IFMA_TERM(Z18, Z0, Z5, Z8); \
	IFMA_TERM(Z20, Z1, Z3, Z6); \
	IFMA_TERM(Z16, Z1, Z4, Z7); \
	IFMA_TERM(Z17, Z1, Z5, Z8); \
	IFMA_TERM(Z19, Z2, Z3, Z6); \
	IFMA_TERM(Z20, Z2, Z4, Z7); \
	IFMA_TERM(Z16, Z2, Z5, Z8)

// IFMA_REDUCE: Z0..Z2 = the columns Z3..Z8 carried back to 44, 44 and 42
// bits; Z12 is 2^44-1, Z13 2^42-1.
#define IFMA_REDUCE \
	VPSRLQ $44, Z3, Z14; \
	VPSLLQ $8, Z6, Z6; \
	VPADDQ Z14, Z4, Z4; \
	VPADDQ Z6, Z4, Z4; \
	VPANDQ Z12, Z3, Z0; \
	VPSRLQ $44, Z4, Z14; \
	VPSLLQ $8, Z7, Z7; \
	VPADDQ Z14, Z5, Z5; \
	VPADDQ Z7, Z5, Z5; \
	VPANDQ Z12, Z4, Z1; \
	VPSRLQ $42, Z5, Z14; \
	VPSLLQ $10, Z8, Z8; \
	VPADDQ Z8, Z14, Z14; \
	VPANDQ Z13, Z5, Z2; \
	VPADDQ Z14, Z0, Z0; \
	VPSLLQ $2, Z14, Z14; \
	VPADDQ Z14, Z0, Z0; \
	VPSRLQ $44, Z0, Z14; \
	VPANDQ Z12, Z0, Z0; \
	VPADDQ Z14, Z1, Z1

// func polyBlocksIFMA(h *polyLaneState, msg *byte, chunks int, rk, rlast *polyTable)
TEXT ·polyBlocksIFMA(SB), NOSPLIT, $0-40
	MOVQ h+0(FP), DI
	MOVQ msg+8(FP), SI
	MOVQ chunks+16(FP), CX
	MOVQ rk+24(FP), R8
	MOVQ rlast+32(FP), R9

	VMOVDQU64 0(DI), Z0
	VMOVDQU64 64(DI), Z1
	VMOVDQU64 128(DI), Z2

	VPTERNLOGD $0xff, Z12, Z12, Z12
	VPSRLQ $63, Z12, Z15
	VPSLLQ $40, Z15, Z15 // 2^40, the 2^128 bit of a full block
	VPSRLQ $22, Z12, Z13 // 2^42-1
	VPSRLQ $20, Z12, Z12 // 2^44-1

	TESTQ CX, CX
	JZ doneIFMA

	VMOVDQU64 0(R8), Z16
	VMOVDQU64 64(R8), Z17
	VMOVDQU64 128(R8), Z18
	VMOVDQU64 192(R8), Z19
	VMOVDQU64 256(R8), Z20

loopIFMA:
	// The lanes take blocks 0, 4, 1, 5, 2, 6, 3, 7 as in polyBlocksAVX512;
	// their limbs start the lo columns.
	VMOVDQU64 0(SI), Z14
	VMOVDQU64 64(SI), Z9
	VPUNPCKLQDQ Z9, Z14, Z10
	VPUNPCKHQDQ Z9, Z14, Z11
	VPANDQ Z12, Z10, Z3
	VPSRLQ $44, Z10, Z4
	VPSLLQ $20, Z11, Z14
	VPORQ Z14, Z4, Z4
	VPANDQ Z12, Z4, Z4
	VPSRLQ $24, Z11, Z5
	VPORQ Z15, Z5, Z5

	IFMA_MULTIPLY
	IFMA_REDUCE

	ADDQ $128, SI
	DECQ CX
	JNZ loopIFMA

	VMOVDQU64 0(R9), Z16
	VMOVDQU64 64(R9), Z17
	VMOVDQU64 128(R9), Z18
	VMOVDQU64 192(R9), Z19
	VMOVDQU64 256(R9), Z20
	VPXORQ Z3, Z3, Z3
	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	IFMA_MULTIPLY
	IFMA_REDUCE

doneIFMA:
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	VZEROUPPER
	RET

//go:build amd64 && !purego

#include "textflag.h"

// BlockMix with Salsa20/8 for scrypt, two independent lanes (two of
// scrypt's p) at once. One lane on its own is a chain of dependent
// steps; in vector registers it runs no faster than the pure-Go code, but
// a second lane in the other half of each register comes for free.
//
// Every 64-byte sub-block is kept in "diagonal" order (see diagonalOrder
// in scrypt_amd64.go): the four 128-bit vectors of a lane hold the words
//	A = x0  x5  x10 x15
//	B = x4  x9  x14 x3
//	C = x8  x13 x2  x7
//	D = x12 x1  x6  x11
// so that the four column quarter-rounds of Salsa20 are one vector
// operation per step. Rotating the words of B, C and D by one, two and
// three places lines the rows up the same way for the row round; a second
// rotation restores the column order. Each YMM register holds a vector of
// lane 0 in its low half and the same vector of lane 1 in its high half;
// VPSHUFD shuffles within each half.
//
// Registers: Y0-Y3 the running state A-D, Y4-Y7 the input of the current
// Salsa20/8 (added back at its end), Y8-Y9 scratch. SI, R12: in of lanes
// 0 and 1; DX, R13: xor (or DX = 0); DI, R10: next even output
// sub-blocks; R8, R11: next odd output sub-blocks; CX: pairs of
// sub-blocks left.

// dst ^= rotl(s1 + s2, k) with AVX2 shifts (rk = 32 - k)
#define STEP2_AVX2(dst, s1, s2, k, rk) \
	VPADDD s2, s1, Y8; \
	VPSLLD $k, Y8, Y9; \
	VPSRLD $rk, Y8, Y8; \
	VPXOR  Y9, dst, dst; \
	VPXOR  Y8, dst, dst

// dst ^= rotl(s1 + s2, k) with AVX-512VL's rotate
#define STEP2_AVX512(dst, s1, s2, k, rk) \
	VPADDD s2, s1, Y8; \
	VPROLD $k, Y8, Y8; \
	VPXOR  Y8, dst, dst

// two rounds of Salsa20: columns, then rows
#define DOUBLEROUND2(STEP) \
	STEP(Y1, Y0, Y3, 7, 25); \
	STEP(Y2, Y1, Y0, 9, 23); \
	STEP(Y3, Y2, Y1, 13, 19); \
	STEP(Y0, Y3, Y2, 18, 14); \
	VPSHUFD $0x93, Y1, Y1; \
	VPSHUFD $0x4e, Y2, Y2; \
	VPSHUFD $0x39, Y3, Y3; \
	STEP(Y3, Y0, Y1, 7, 25); \
	STEP(Y2, Y3, Y0, 9, 23); \
	STEP(Y1, Y2, Y3, 13, 19); \
	STEP(Y0, Y1, Y2, 18, 14); \
	VPSHUFD $0x39, Y1, Y1; \
	VPSHUFD $0x4e, Y2, Y2; \
	VPSHUFD $0x93, Y3, Y3

// state ^= 64 bytes at off(b0) (lane 0) and off(b1) (lane 1)
#define XORIN2(b0, b1, off) \
	VMOVDQU off+0(b0), X8; \
	VINSERTI128 $1, off+0(b1), Y8, Y8; \
	VPXOR Y8, Y0, Y0; \
	VMOVDQU off+16(b0), X9; \
	VINSERTI128 $1, off+16(b1), Y9, Y9; \
	VPXOR Y9, Y1, Y1; \
	VMOVDQU off+32(b0), X8; \
	VINSERTI128 $1, off+32(b1), Y8, Y8; \
	VPXOR Y8, Y2, Y2; \
	VMOVDQU off+48(b0), X9; \
	VINSERTI128 $1, off+48(b1), Y9, Y9; \
	VPXOR Y9, Y3, Y3

// Salsa20/8 of the state, stored at 0(o0) (lane 0) and 0(o1) (lane 1)
#define SALSA8X2(STEP, o0, o1) \
	VMOVDQA Y0, Y4; \
	VMOVDQA Y1, Y5; \
	VMOVDQA Y2, Y6; \
	VMOVDQA Y3, Y7; \
	DOUBLEROUND2(STEP); \
	DOUBLEROUND2(STEP); \
	DOUBLEROUND2(STEP); \
	DOUBLEROUND2(STEP); \
	VPADDD Y4, Y0, Y0; \
	VPADDD Y5, Y1, Y1; \
	VPADDD Y6, Y2, Y2; \
	VPADDD Y7, Y3, Y3; \
	VMOVDQU X0, 0(o0); \
	VEXTRACTI128 $1, Y0, 0(o1); \
	VMOVDQU X1, 16(o0); \
	VEXTRACTI128 $1, Y1, 16(o1); \
	VMOVDQU X2, 32(o0); \
	VEXTRACTI128 $1, Y2, 32(o1); \
	VMOVDQU X3, 48(o0); \
	VEXTRACTI128 $1, Y3, 48(o1)

// the whole function: out = BlockMix(in XOR xor), or BlockMix(in) when
// xor0 is nil, for both lanes
#define BLOCKMIX2(STEP) \
	MOVQ out0+0(FP), DI; \
	MOVQ out1+8(FP), R10; \
	MOVQ in0+16(FP), SI; \
	MOVQ in1+24(FP), R12; \
	MOVQ xor0+32(FP), DX; \
	MOVQ xor1+40(FP), R13; \
	MOVQ r+48(FP), CX; \
	MOVQ CX, AX; \
	SHLQ $7, AX; \
	MOVQ CX, BX; \
	SHLQ $6, BX; \
	LEAQ 0(DI)(BX*1), R8; \
	LEAQ 0(R10)(BX*1), R11; \
	LEAQ -64(SI)(AX*1), R9; \
	LEAQ -64(R12)(AX*1), BX; \
	VMOVDQU 0(R9), X0; \
	VINSERTI128 $1, 0(BX), Y0, Y0; \
	VMOVDQU 16(R9), X1; \
	VINSERTI128 $1, 16(BX), Y1, Y1; \
	VMOVDQU 32(R9), X2; \
	VINSERTI128 $1, 32(BX), Y2, Y2; \
	VMOVDQU 48(R9), X3; \
	VINSERTI128 $1, 48(BX), Y3, Y3; \
	TESTQ DX, DX; \
	JZ   plain2; \
	LEAQ -64(DX)(AX*1), R9; \
	LEAQ -64(R13)(AX*1), BX; \
	XORIN2(R9, BX, 0); \
withxor2: \
	XORIN2(SI, R12, 0); \
	XORIN2(DX, R13, 0); \
	SALSA8X2(STEP, DI, R10); \
	XORIN2(SI, R12, 64); \
	XORIN2(DX, R13, 64); \
	SALSA8X2(STEP, R8, R11); \
	ADDQ $128, SI; \
	ADDQ $128, R12; \
	ADDQ $128, DX; \
	ADDQ $128, R13; \
	ADDQ $64, DI; \
	ADDQ $64, R10; \
	ADDQ $64, R8; \
	ADDQ $64, R11; \
	DECQ CX; \
	JNZ  withxor2; \
	VZEROUPPER; \
	RET; \
plain2: \
	XORIN2(SI, R12, 0); \
	SALSA8X2(STEP, DI, R10); \
	XORIN2(SI, R12, 64); \
	SALSA8X2(STEP, R8, R11); \
	ADDQ $128, SI; \
	ADDQ $128, R12; \
	ADDQ $64, DI; \
	ADDQ $64, R10; \
	ADDQ $64, R8; \
	ADDQ $64, R11; \
	DECQ CX; \
	JNZ  plain2; \
	VZEROUPPER; \
	RET

// func blockMix2AVX2(out0, out1, in0, in1, xor0, xor1 *uint32, r int)
TEXT ·blockMix2AVX2(SB), NOSPLIT, $0-56
	BLOCKMIX2(STEP2_AVX2)

// func blockMix2AVX512(out0, out1, in0, in1, xor0, xor1 *uint32, r int)
TEXT ·blockMix2AVX512(SB), NOSPLIT, $0-56
	BLOCKMIX2(STEP2_AVX512)

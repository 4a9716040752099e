#include "textflag.h"

// BlockMix with Salsa20/8 in XMM registers with AVX-512VL instructions, on
// blocks in the same diagonal order as the SSE2 one (scrypt_mix_amd64.s):
// X0..X3 hold the rows a, b, c and d, and the rounds go the same way. The
// difference is in the step: VPROLD rotates in one instruction where SSE2
// needs two shifts and two XORs (and two copies), so a step is three
// instructions instead of seven, and three after one another instead of
// four. Salsa20/8 is one chain of 32 such steps, so it gets shorter by
// about a quarter.

// STEP: dst ^= (x + y) <<< rot, through X8.
#define STEP(x, y, dst, rot) \
	VPADDD y, x, X8; \
	VPROLD $rot, X8, X8; \
	VPXORD X8, dst, dst

// DOUBLEROUND: a column round and a row round on X0..X3 (a, b, c, d).
#define DOUBLEROUND \
	STEP(X0, X3, X1, 7); \
	STEP(X1, X0, X2, 9); \
	STEP(X2, X1, X3, 13); \
	STEP(X3, X2, X0, 18); \
	VPSHUFD $0x93, X1, X1; \
	VPSHUFD $0x4E, X2, X2; \
	VPSHUFD $0x39, X3, X3; \
	STEP(X0, X1, X3, 7); \
	STEP(X3, X0, X2, 9); \
	STEP(X2, X3, X1, 13); \
	STEP(X1, X2, X0, 18); \
	VPSHUFD $0x39, X1, X1; \
	VPSHUFD $0x4E, X2, X2; \
	VPSHUFD $0x93, X3, X3

// XORIN: X0..X3 ^= the 64 bytes at src.
#define XORIN(src) \
	VPXORD 0(src), X0, X0; \
	VPXORD 16(src), X1, X1; \
	VPXORD 32(src), X2, X2; \
	VPXORD 48(src), X3, X3

// XORIN2: X0..X3 ^= the 64 bytes at src ^ the 64 bytes at v, one
// three-way XOR (VPTERNLOGD 0x96) per register.
#define XORIN2(src, v) \
	VMOVDQU 0(src), X9; \
	VMOVDQU 16(src), X10; \
	VMOVDQU 32(src), X11; \
	VMOVDQU 48(src), X12; \
	VPTERNLOGD $0x96, 0(v), X9, X0; \
	VPTERNLOGD $0x96, 16(v), X10, X1; \
	VPTERNLOGD $0x96, 32(v), X11, X2; \
	VPTERNLOGD $0x96, 48(v), X12, X3

// SALSA: X0..X3 = Salsa20/8(X0..X3).
#define SALSA \
	VMOVDQA X0, X4; \
	VMOVDQA X1, X5; \
	VMOVDQA X2, X6; \
	VMOVDQA X3, X7; \
	DOUBLEROUND; \
	DOUBLEROUND; \
	DOUBLEROUND; \
	DOUBLEROUND; \
	VPADDD X4, X0, X0; \
	VPADDD X5, X1, X1; \
	VPADDD X6, X2, X2; \
	VPADDD X7, X3, X3

// STORE: the 64 bytes at dst = X0..X3.
#define STORE(dst) \
	VMOVDQU X0, 0(dst); \
	VMOVDQU X1, 16(dst); \
	VMOVDQU X2, 32(dst); \
	VMOVDQU X3, 48(dst)

// func blockMixAVX512(out, in *uint32, r int)
TEXT ·blockMixAVX512(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ r+16(FP), CX
	MOVQ CX, AX
	SHLQ $7, AX                // 128·r bytes: the whole input
	VMOVDQU -64(SI)(AX*1), X0 // X = the last 64-byte block
	VMOVDQU -48(SI)(AX*1), X1
	VMOVDQU -32(SI)(AX*1), X2
	VMOVDQU -16(SI)(AX*1), X3
	MOVQ CX, BX
	SHLQ $6, BX
	LEAQ (DI)(BX*1), R8        // odd blocks go to the second half of out

loop:
	XORIN(SI)
	SALSA
	STORE(DI)
	LEAQ 64(SI), DX
	XORIN(DX)
	SALSA
	STORE(R8)
	ADDQ $128, SI
	ADDQ $64, DI
	ADDQ $64, R8
	DECQ CX
	JNZ loop
	RET

// func blockMixXorAVX512(out, in, v *uint32, r int)
// out = BlockMix(in XOR v), without writing in XOR v anywhere.
TEXT ·blockMixXorAVX512(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ v+16(FP), R9
	MOVQ r+24(FP), CX
	MOVQ CX, AX
	SHLQ $7, AX
	VMOVDQU -64(SI)(AX*1), X0
	VMOVDQU -48(SI)(AX*1), X1
	VMOVDQU -32(SI)(AX*1), X2
	VMOVDQU -16(SI)(AX*1), X3
	LEAQ -64(R9)(AX*1), DX
	XORIN(DX)
	MOVQ CX, BX
	SHLQ $6, BX
	LEAQ (DI)(BX*1), R8

xloop:
	XORIN2(SI, R9)
	SALSA
	STORE(DI)
	LEAQ 64(SI), DX
	LEAQ 64(R9), R10
	XORIN2(DX, R10)
	SALSA
	STORE(R8)
	ADDQ $128, SI
	ADDQ $128, R9
	ADDQ $64, DI
	ADDQ $64, R8
	DECQ CX
	JNZ xloop
	RET

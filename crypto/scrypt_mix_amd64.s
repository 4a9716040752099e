#include "textflag.h"

// BlockMix with Salsa20/8 in SSE2 registers. Each 64-byte block is kept in
// the diagonal order (see diagonal in scrypt_mix_amd64.go): the state rows
// a = (x0 x5 x10 x15), b = (x4 x9 x14 x3), c = (x8 x13 x2 x7) and
// d = (x12 x1 x6 x11) make every quarter-round of a column round one
// vector step; rotating b, c and d by one, two and three lanes turns rows
// into columns for the row round, and rotating them back restores the order.

// STEP: dst ^= (x + y) <<< rot, through X8 and X9.
#define STEP(x, y, dst, rot) \
	MOVO x, X8; \
	PADDL y, X8; \
	MOVO X8, X9; \
	PSLLL $rot, X8; \
	PSRLL $(32-rot), X9; \
	PXOR X8, dst; \
	PXOR X9, dst

// DOUBLEROUND: a column round and a row round on X0..X3 (a, b, c, d).
#define DOUBLEROUND \
	STEP(X0, X3, X1, 7); \
	STEP(X1, X0, X2, 9); \
	STEP(X2, X1, X3, 13); \
	STEP(X3, X2, X0, 18); \
	PSHUFL $0x93, X1, X1; \
	PSHUFL $0x4E, X2, X2; \
	PSHUFL $0x39, X3, X3; \
	STEP(X0, X1, X3, 7); \
	STEP(X3, X0, X2, 9); \
	STEP(X2, X3, X1, 13); \
	STEP(X1, X2, X0, 18); \
	PSHUFL $0x39, X1, X1; \
	PSHUFL $0x4E, X2, X2; \
	PSHUFL $0x93, X3, X3

// XORIN: X0..X3 ^= the 64 bytes at src.
#define XORIN(src) \
	MOVOU 0(src), X4; \
	MOVOU 16(src), X5; \
	MOVOU 32(src), X6; \
	MOVOU 48(src), X7; \
	PXOR X4, X0; \
	PXOR X5, X1; \
	PXOR X6, X2; \
	PXOR X7, X3

// SALSA: X0..X3 = Salsa20/8(X0..X3).
#define SALSA \
	MOVO X0, X4; \
	MOVO X1, X5; \
	MOVO X2, X6; \
	MOVO X3, X7; \
	DOUBLEROUND; \
	DOUBLEROUND; \
	DOUBLEROUND; \
	DOUBLEROUND; \
	PADDL X4, X0; \
	PADDL X5, X1; \
	PADDL X6, X2; \
	PADDL X7, X3

// STORE: the 64 bytes at dst = X0..X3.
#define STORE(dst) \
	MOVOU X0, 0(dst); \
	MOVOU X1, 16(dst); \
	MOVOU X2, 32(dst); \
	MOVOU X3, 48(dst)

// func blockMixSSE2(out, in *uint32, r int)
TEXT ·blockMixSSE2(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ r+16(FP), CX
	MOVQ CX, AX
	SHLQ $7, AX             // 128·r bytes: the whole input
	MOVOU -64(SI)(AX*1), X0 // X = the last 64-byte block
	MOVOU -48(SI)(AX*1), X1
	MOVOU -32(SI)(AX*1), X2
	MOVOU -16(SI)(AX*1), X3
	MOVQ CX, BX
	SHLQ $6, BX
	LEAQ (DI)(BX*1), R8     // odd blocks go to the second half of out

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

// func blockMixXorSSE2(out, in, v *uint32, r int)
// out = BlockMix(in XOR v), without writing in XOR v anywhere.
TEXT ·blockMixXorSSE2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ v+16(FP), R9
	MOVQ r+24(FP), CX
	MOVQ CX, AX
	SHLQ $7, AX
	MOVOU -64(SI)(AX*1), X0
	MOVOU -48(SI)(AX*1), X1
	MOVOU -32(SI)(AX*1), X2
	MOVOU -16(SI)(AX*1), X3
	LEAQ (R9)(AX*1), DX
	LEAQ -64(DX), DX
	XORIN(DX)
	MOVQ CX, BX
	SHLQ $6, BX
	LEAQ (DI)(BX*1), R8

xloop:
	XORIN(SI)
	XORIN(R9)
	SALSA
	STORE(DI)
	LEAQ 64(SI), DX
	XORIN(DX)
	LEAQ 64(R9), DX
	XORIN(DX)
	SALSA
	STORE(R8)
	ADDQ $128, SI
	ADDQ $128, R9
	ADDQ $64, DI
	ADDQ $64, R8
	DECQ CX
	JNZ xloop
	RET

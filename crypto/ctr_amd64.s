#include "textflag.h"

// AES-256 key expansion with AESKEYGENASSIST, and AES-256 counter mode
// with VAES on ZMM registers: each ZMM register holds four counter blocks,
// and one VAESENC does a round on all four.

// PREFIXXOR: x = (w0, w0^w1, w0^w1^w2, w0^w1^w2^w3) for the words w of x,
// the chain of XORs in the key schedule, through X4.
#define PREFIXXOR(x) \
	MOVO x, X4; \
	PSLLO $4, X4; \
	PXOR X4, x; \
	PSLLO $4, X4; \
	PXOR X4, x; \
	PSLLO $4, X4; \
	PXOR X4, x

// EVENKEY: the next even round key into X1, from X1 (two round keys back)
// and X3 (the last one): SubWord(RotWord(last word of X3)) ^ rcon is
// word 3 of AESKEYGENASSIST's result.
#define EVENKEY(rcon, off) \
	AESKEYGENASSIST $rcon, X3, X2; \
	PSHUFD $0xff, X2, X2; \
	PREFIXXOR(X1); \
	PXOR X2, X1; \
	MOVOU X1, off(DI)

// ODDKEY: the next odd round key into X3, from X3 and X1: AES-256 applies
// SubWord alone (no rotation, no rcon) here, word 2 of the result.
#define ODDKEY(off) \
	AESKEYGENASSIST $0, X1, X2; \
	PSHUFD $0xaa, X2, X2; \
	PREFIXXOR(X3); \
	PXOR X2, X3; \
	MOVOU X3, off(DI)

// func expandKey256(keys *roundKeys, key *[32]byte)
TEXT ·expandKey256(SB), NOSPLIT, $0-16
	MOVQ  keys+0(FP), DI
	MOVQ  key+8(FP), SI
	MOVOU 0(SI), X1
	MOVOU 16(SI), X3
	MOVOU X1, 0(DI)
	MOVOU X3, 16(DI)
	EVENKEY(0x01, 32)
	ODDKEY(48)
	EVENKEY(0x02, 64)
	ODDKEY(80)
	EVENKEY(0x04, 96)
	ODDKEY(112)
	EVENKEY(0x08, 128)
	ODDKEY(144)
	EVENKEY(0x10, 160)
	ODDKEY(176)
	EVENKEY(0x20, 192)
	ODDKEY(208)
	EVENKEY(0x40, 224)
	RET

// Counters are kept in Z12 as four 128-bit lanes of (low, high) 64-bit
// words, little-endian, so VPADDQ steps them; ctrBswap turns a lane into
// the big-endian counter block that is encrypted. The caller guarantees
// the low word does not wrap within a call, so no carry is needed.

// ctrBswap reverses the 16 bytes of each lane.
DATA ctrBswap<>+0(SB)/8, $0x08090a0b0c0d0e0f
DATA ctrBswap<>+8(SB)/8, $0x0001020304050607
DATA ctrBswap<>+16(SB)/8, $0x08090a0b0c0d0e0f
DATA ctrBswap<>+24(SB)/8, $0x0001020304050607
DATA ctrBswap<>+32(SB)/8, $0x08090a0b0c0d0e0f
DATA ctrBswap<>+40(SB)/8, $0x0001020304050607
DATA ctrBswap<>+48(SB)/8, $0x08090a0b0c0d0e0f
DATA ctrBswap<>+56(SB)/8, $0x0001020304050607
GLOBL ctrBswap<>(SB), RODATA|NOPTR, $64

// ctrLanes: lane i counts i blocks past the first.
DATA ctrLanes<>+0(SB)/8, $0
DATA ctrLanes<>+8(SB)/8, $0
DATA ctrLanes<>+16(SB)/8, $1
DATA ctrLanes<>+24(SB)/8, $0
DATA ctrLanes<>+32(SB)/8, $2
DATA ctrLanes<>+40(SB)/8, $0
DATA ctrLanes<>+48(SB)/8, $3
DATA ctrLanes<>+56(SB)/8, $0
GLOBL ctrLanes<>(SB), RODATA|NOPTR, $64

// ctrStep4: four blocks further, in every lane.
DATA ctrStep4<>+0(SB)/8, $4
DATA ctrStep4<>+8(SB)/8, $0
DATA ctrStep4<>+16(SB)/8, $4
DATA ctrStep4<>+24(SB)/8, $0
DATA ctrStep4<>+32(SB)/8, $4
DATA ctrStep4<>+40(SB)/8, $0
DATA ctrStep4<>+48(SB)/8, $4
DATA ctrStep4<>+56(SB)/8, $0
GLOBL ctrStep4<>(SB), RODATA|NOPTR, $64

// NEXTCTR: z = the next four counter blocks, big-endian; Z12 steps on.
#define NEXTCTR(z) \
	VPSHUFB Z14, Z12, z; \
	VPADDQ  Z13, Z12, Z12

// The round keys live in Z16..Z30, each broadcast to all four lanes.
#define ROUND4(k) \
	VAESENC k, Z0, Z0; \
	VAESENC k, Z1, Z1; \
	VAESENC k, Z2, Z2; \
	VAESENC k, Z3, Z3

#define LAST4(k) \
	VAESENCLAST k, Z0, Z0; \
	VAESENCLAST k, Z1, Z1; \
	VAESENCLAST k, Z2, Z2; \
	VAESENCLAST k, Z3, Z3

#define ENCRYPT1(z) \
	VPXORQ  Z16, z, z; \
	VAESENC Z17, z, z; \
	VAESENC Z18, z, z; \
	VAESENC Z19, z, z; \
	VAESENC Z20, z, z; \
	VAESENC Z21, z, z; \
	VAESENC Z22, z, z; \
	VAESENC Z23, z, z; \
	VAESENC Z24, z, z; \
	VAESENC Z25, z, z; \
	VAESENC Z26, z, z; \
	VAESENC Z27, z, z; \
	VAESENC Z28, z, z; \
	VAESENC Z29, z, z; \
	VAESENCLAST Z30, z, z

// func ctrBlocksVAES(keys *roundKeys, dst, src *byte, blocks int, ctr *[2]uint64)
TEXT ·ctrBlocksVAES(SB), NOSPLIT, $0-40
	MOVQ keys+0(FP), AX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI
	MOVQ blocks+24(FP), CX
	MOVQ ctr+32(FP), DX

	VBROADCASTI32X4 0(AX), Z16
	VBROADCASTI32X4 16(AX), Z17
	VBROADCASTI32X4 32(AX), Z18
	VBROADCASTI32X4 48(AX), Z19
	VBROADCASTI32X4 64(AX), Z20
	VBROADCASTI32X4 80(AX), Z21
	VBROADCASTI32X4 96(AX), Z22
	VBROADCASTI32X4 112(AX), Z23
	VBROADCASTI32X4 128(AX), Z24
	VBROADCASTI32X4 144(AX), Z25
	VBROADCASTI32X4 160(AX), Z26
	VBROADCASTI32X4 176(AX), Z27
	VBROADCASTI32X4 192(AX), Z28
	VBROADCASTI32X4 208(AX), Z29
	VBROADCASTI32X4 224(AX), Z30

	VBROADCASTI32X4 0(DX), Z12
	VPADDQ    ctrLanes<>(SB), Z12, Z12
	VMOVDQU64 ctrStep4<>(SB), Z13
	VMOVDQU64 ctrBswap<>(SB), Z14

	// Sixteen blocks at a time: four independent registers keep the AES
	// units busy while each VAESENC waits for the one before it.
loop16:
	CMPQ CX, $16
	JB   loop4
	NEXTCTR(Z0)
	NEXTCTR(Z1)
	NEXTCTR(Z2)
	NEXTCTR(Z3)
	VPXORQ Z16, Z0, Z0
	VPXORQ Z16, Z1, Z1
	VPXORQ Z16, Z2, Z2
	VPXORQ Z16, Z3, Z3
	ROUND4(Z17)
	ROUND4(Z18)
	ROUND4(Z19)
	ROUND4(Z20)
	ROUND4(Z21)
	ROUND4(Z22)
	ROUND4(Z23)
	ROUND4(Z24)
	ROUND4(Z25)
	ROUND4(Z26)
	ROUND4(Z27)
	ROUND4(Z28)
	ROUND4(Z29)
	LAST4(Z30)
	VPXORQ    0(SI), Z0, Z0
	VPXORQ    64(SI), Z1, Z1
	VPXORQ    128(SI), Z2, Z2
	VPXORQ    192(SI), Z3, Z3
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	VMOVDQU64 Z3, 192(DI)
	ADDQ      $256, SI
	ADDQ      $256, DI
	SUBQ      $16, CX
	JMP       loop16

	// Then four at a time.
loop4:
	CMPQ CX, $4
	JB   tail
	NEXTCTR(Z0)
	ENCRYPT1(Z0)
	VPXORQ    0(SI), Z0, Z0
	VMOVDQU64 Z0, 0(DI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	SUBQ      $4, CX
	JMP       loop4

	// The last one to three blocks: a mask of 2 quadwords per block
	// keeps the load and the store inside the buffers.
tail:
	TESTQ CX, CX
	JZ    done
	SHLQ  $1, CX
	MOVL  $1, BX
	SHLQ  CX, BX
	DECQ  BX
	KMOVW BX, K1
	VMOVDQU64.Z (SI), K1, Z4
	NEXTCTR(Z0)
	ENCRYPT1(Z0)
	VPXORQ    Z4, Z0, Z0
	VMOVDQU64 Z0, K1, (DI)

done:
	VZEROUPPER
	RET

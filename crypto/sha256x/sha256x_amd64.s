//go:build amd64

// Four (blocks4) or two (blocks2) SHA-256 streams at once with the SHA
// extensions (SHA-NI).
//
// SHA256RNDS2 does two rounds, and a block is a chain of 32 of them, each
// waiting for the one before, so one stream leaves the SHA unit idle much
// of the time. Independent streams interleaved fill those gaps: on an AMD
// EPYC (Zen 5) four hash 1.9 times as many bytes per second as one, two
// 1.55 times; beyond that the SHA unit's throughput is the limit.
//
// In blocks4 lane l keeps its state in two registers, ABEF and CDGH (the layout
// SHA256RNDS2 works in; state[l] holds the same two vectors, see toLane):
// lane 0 in X1, X2, lane 1 in X3, X4, lane 2 in X5, X6, lane 3 in X7, X8.
// The SHA instructions reach only X0-X15, too few for four message
// schedules as well, so those live in a 16-byte-aligned scratch area on
// the stack (DI): lane l's four vectors of message words at 64·l, its
// state from the start of the block (added back at the end) at 256+32·l.
// The newest four message words of each lane stay in a register too (X9,
// X13, X14, X15 for lanes 0-3): the next four are computed from them, and
// going through memory on that chain made it the longest one. X0 is
// SHA256RNDS2's implicit operand, X12 holds the round constants of the
// current four rounds, X10 and X11 are scratch; the byte-swap mask is at
// 384 in the scratch area.

#include "textflag.h"

// SHA-256's round constants, two per line
DATA k256<>+0(SB)/8, $0x71374491428a2f98
DATA k256<>+8(SB)/8, $0xe9b5dba5b5c0fbcf
DATA k256<>+16(SB)/8, $0x59f111f13956c25b
DATA k256<>+24(SB)/8, $0xab1c5ed5923f82a4
DATA k256<>+32(SB)/8, $0x12835b01d807aa98
DATA k256<>+40(SB)/8, $0x550c7dc3243185be
DATA k256<>+48(SB)/8, $0x80deb1fe72be5d74
DATA k256<>+56(SB)/8, $0xc19bf1749bdc06a7
DATA k256<>+64(SB)/8, $0xefbe4786e49b69c1
DATA k256<>+72(SB)/8, $0x240ca1cc0fc19dc6
DATA k256<>+80(SB)/8, $0x4a7484aa2de92c6f
DATA k256<>+88(SB)/8, $0x76f988da5cb0a9dc
DATA k256<>+96(SB)/8, $0xa831c66d983e5152
DATA k256<>+104(SB)/8, $0xbf597fc7b00327c8
DATA k256<>+112(SB)/8, $0xd5a79147c6e00bf3
DATA k256<>+120(SB)/8, $0x1429296706ca6351
DATA k256<>+128(SB)/8, $0x2e1b213827b70a85
DATA k256<>+136(SB)/8, $0x53380d134d2c6dfc
DATA k256<>+144(SB)/8, $0x766a0abb650a7354
DATA k256<>+152(SB)/8, $0x92722c8581c2c92e
DATA k256<>+160(SB)/8, $0xa81a664ba2bfe8a1
DATA k256<>+168(SB)/8, $0xc76c51a3c24b8b70
DATA k256<>+176(SB)/8, $0xd6990624d192e819
DATA k256<>+184(SB)/8, $0x106aa070f40e3585
DATA k256<>+192(SB)/8, $0x1e376c0819a4c116
DATA k256<>+200(SB)/8, $0x34b0bcb52748774c
DATA k256<>+208(SB)/8, $0x4ed8aa4a391c0cb3
DATA k256<>+216(SB)/8, $0x682e6ff35b9cca4f
DATA k256<>+224(SB)/8, $0x78a5636f748f82ee
DATA k256<>+232(SB)/8, $0x8cc7020884c87814
DATA k256<>+240(SB)/8, $0xa4506ceb90befffa
DATA k256<>+248(SB)/8, $0xc67178f2bef9a3f7
GLOBL k256<>(SB), RODATA|NOPTR, $256

// reverses the bytes of each 32-bit word (PSHUFB's mask): message words
// are big-endian
DATA flip<>+0(SB)/8, $0x0405060700010203
DATA flip<>+8(SB)/8, $0x0c0d0e0f08090a0b
GLOBL flip<>(SB), RODATA|NOPTR, $16

// LOAD: lane l's message words (big-endian, at src) into its scratch at
// m, the newest of them also into last, and its state (abef, cdgh) into
// its save slot at s.
#define LOAD(src, m, s, abef, cdgh, last) \
	MOVOA abef, s(DI); \
	MOVOA cdgh, s+16(DI); \
	MOVOU 0(src), X10; \
	PSHUFB 384(DI), X10; \
	MOVOA X10, m(DI); \
	MOVOU 16(src), X10; \
	PSHUFB 384(DI), X10; \
	MOVOA X10, m+16(DI); \
	MOVOU 32(src), X10; \
	PSHUFB 384(DI), X10; \
	MOVOA X10, m+32(DI); \
	MOVOU 48(src), last; \
	PSHUFB 384(DI), last; \
	MOVOA last, m+48(DI)

// ROUNDS: four rounds of one lane with the message words at w (plus the
// constants in X12).
#define ROUNDS(w, abef, cdgh) \
	MOVOA w(DI), X0; \
	PADDD X12, X0; \
	SHA256RNDS2 X0, abef, cdgh; \
	PSHUFD $0x0e, X0, X0; \
	SHA256RNDS2 X0, cdgh, abef

// SCHEDULE: the next four message words of one lane, W[t..t+3] from
// W[t-16..t-13] at w0 (which they replace), W[t-12..] at w1, W[t-8..] at
// w2 and W[t-4..t-1] in last (which they replace as well).
#define SCHEDULE(w0, w1, w2, last) \
	MOVOA w0(DI), X10; \
	SHA256MSG1 w1(DI), X10; \
	MOVOA last, X11; \
	PALIGNR $4, w2(DI), X11; \
	PADDD X11, X10; \
	SHA256MSG2 last, X10; \
	MOVOA X10, last; \
	MOVOA X10, w0(DI)

// FOUR: rounds 4r..4r+3 of every lane, whose words are at part p of the
// lane's scratch (p = r mod 4), constants at k.
#define FOUR(k, p) \
	MOVOU k(AX), X12; \
	ROUNDS(p, X1, X2); \
	ROUNDS(64+p, X3, X4); \
	ROUNDS(128+p, X5, X6); \
	ROUNDS(192+p, X7, X8)

// FOURSCHED: FOUR, each lane then computing the words of rounds 4r+16..
// 4r+19 into part p (parts q and s are the next two).
#define FOURSCHED(k, p, q, s) \
	MOVOU k(AX), X12; \
	ROUNDS(p, X1, X2); \
	SCHEDULE(p, q, s, X9); \
	ROUNDS(64+p, X3, X4); \
	SCHEDULE(64+p, 64+q, 64+s, X13); \
	ROUNDS(128+p, X5, X6); \
	SCHEDULE(128+p, 128+q, 128+s, X14); \
	ROUNDS(192+p, X7, X8); \
	SCHEDULE(192+p, 192+q, 192+s, X15)

// func cpuidSHA() bool reports CPUID leaf 7's EBX bit 29 (SHA).
TEXT ·cpuidSHA(SB), NOSPLIT, $0-1
	MOVB $0, ret+0(FP)
	XORL AX, AX
	XORL CX, CX
	CPUID
	CMPL AX, $7
	JB nosha
	MOVL $7, AX
	XORL CX, CX
	CPUID
	SHRL $29, BX
	ANDL $1, BX
	MOVB BX, ret+0(FP)
nosha:
	RET

// func blocks4(state *[4][8]uint32, p *[4]*byte, n int)
// runs n 64-byte blocks through each lane's state; lane l reads them
// from p[l] on.
TEXT ·blocks4(SB), $416-24
	MOVQ state+0(FP), SI
	MOVQ p+8(FP), BX
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JZ done
	MOVQ 0(BX), R8
	MOVQ 8(BX), R9
	MOVQ 16(BX), R10
	MOVQ 24(BX), R11
	LEAQ scratch-416(SP), DI
	ADDQ $15, DI
	ANDQ $~15, DI
	LEAQ k256<>(SB), AX
	MOVOU flip<>(SB), X10
	MOVOA X10, 384(DI)
	MOVOU 0(SI), X1
	MOVOU 16(SI), X2
	MOVOU 32(SI), X3
	MOVOU 48(SI), X4
	MOVOU 64(SI), X5
	MOVOU 80(SI), X6
	MOVOU 96(SI), X7
	MOVOU 112(SI), X8

block:
	LOAD(R8, 0, 256, X1, X2, X9)
	LOAD(R9, 64, 288, X3, X4, X13)
	LOAD(R10, 128, 320, X5, X6, X14)
	LOAD(R11, 192, 352, X7, X8, X15)
	FOURSCHED(0, 0, 16, 32)
	FOURSCHED(16, 16, 32, 48)
	FOURSCHED(32, 32, 48, 0)
	FOURSCHED(48, 48, 0, 16)
	FOURSCHED(64, 0, 16, 32)
	FOURSCHED(80, 16, 32, 48)
	FOURSCHED(96, 32, 48, 0)
	FOURSCHED(112, 48, 0, 16)
	FOURSCHED(128, 0, 16, 32)
	FOURSCHED(144, 16, 32, 48)
	FOURSCHED(160, 32, 48, 0)
	FOURSCHED(176, 48, 0, 16)
	FOUR(192, 0)
	FOUR(208, 16)
	FOUR(224, 32)
	FOUR(240, 48)
	PADDD 256(DI), X1
	PADDD 272(DI), X2
	PADDD 288(DI), X3
	PADDD 304(DI), X4
	PADDD 320(DI), X5
	PADDD 336(DI), X6
	PADDD 352(DI), X7
	PADDD 368(DI), X8
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $64, R10
	ADDQ $64, R11
	DECQ CX
	JNZ block

	MOVOU X1, 0(SI)
	MOVOU X2, 16(SI)
	MOVOU X3, 32(SI)
	MOVOU X4, 48(SI)
	MOVOU X5, 64(SI)
	MOVOU X6, 80(SI)
	MOVOU X7, 96(SI)
	MOVOU X8, 112(SI)

done:
	RET

// The same with two lanes: lane 0's state in X1, X2 and message words in
// X5-X8, lane 1's in X3, X4 and X9-X12, all in registers. X13 and X14
// are scratch, X15 holds the byte-swap mask; the states at the start of
// a block wait on the stack.

// LOAD2: 64 message bytes at src, byte-swapped into m0..m3.
#define LOAD2(src, m0, m1, m2, m3) \
	MOVOU 0(src), m0; \
	PSHUFB X15, m0; \
	MOVOU 16(src), m1; \
	PSHUFB X15, m1; \
	MOVOU 32(src), m2; \
	PSHUFB X15, m2; \
	MOVOU 48(src), m3; \
	PSHUFB X15, m3

// ROUNDS2: four rounds of one lane with message words m (constants in
// X13).
#define ROUNDS2(m, abef, cdgh) \
	MOVOA m, X0; \
	PADDD X13, X0; \
	SHA256RNDS2 X0, abef, cdgh; \
	PSHUFD $0x0e, X0, X0; \
	SHA256RNDS2 X0, cdgh, abef

// SCHEDULE2: W[t..t+3] into m0 from W[t-16..] in m0, W[t-12..] in m1,
// W[t-8..] in m2 and W[t-4..] in m3.
#define SCHEDULE2(m0, m1, m2, m3) \
	SHA256MSG1 m1, m0; \
	MOVOA m3, X14; \
	PALIGNR $4, m2, X14; \
	PADDD X14, m0; \
	SHA256MSG2 m3, m0

// func blocks2(state *[4][8]uint32, p *[4]*byte, n int)
// is blocks4 for lanes 0 and 1 only.
TEXT ·blocks2(SB), NOSPLIT, $64-24
	MOVQ state+0(FP), SI
	MOVQ p+8(FP), BX
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JZ done2
	MOVQ 0(BX), R8
	MOVQ 8(BX), R9
	LEAQ k256<>(SB), AX
	MOVOU flip<>(SB), X15
	MOVOU 0(SI), X1
	MOVOU 16(SI), X2
	MOVOU 32(SI), X3
	MOVOU 48(SI), X4

block2:
	MOVOU X1, s-64(SP)
	MOVOU X2, s-48(SP)
	MOVOU X3, s-32(SP)
	MOVOU X4, s-16(SP)
	LOAD2(R8, X5, X6, X7, X8)
	LOAD2(R9, X9, X10, X11, X12)
	MOVOU 0(AX), X13
	ROUNDS2(X5, X1, X2)
	ROUNDS2(X9, X3, X4)
	SCHEDULE2(X5, X6, X7, X8)
	SCHEDULE2(X9, X10, X11, X12)
	MOVOU 16(AX), X13
	ROUNDS2(X6, X1, X2)
	ROUNDS2(X10, X3, X4)
	SCHEDULE2(X6, X7, X8, X5)
	SCHEDULE2(X10, X11, X12, X9)
	MOVOU 32(AX), X13
	ROUNDS2(X7, X1, X2)
	ROUNDS2(X11, X3, X4)
	SCHEDULE2(X7, X8, X5, X6)
	SCHEDULE2(X11, X12, X9, X10)
	MOVOU 48(AX), X13
	ROUNDS2(X8, X1, X2)
	ROUNDS2(X12, X3, X4)
	SCHEDULE2(X8, X5, X6, X7)
	SCHEDULE2(X12, X9, X10, X11)
	MOVOU 64(AX), X13
	ROUNDS2(X5, X1, X2)
	ROUNDS2(X9, X3, X4)
	SCHEDULE2(X5, X6, X7, X8)
	SCHEDULE2(X9, X10, X11, X12)
	MOVOU 80(AX), X13
	ROUNDS2(X6, X1, X2)
	ROUNDS2(X10, X3, X4)
	SCHEDULE2(X6, X7, X8, X5)
	SCHEDULE2(X10, X11, X12, X9)
	MOVOU 96(AX), X13
	ROUNDS2(X7, X1, X2)
	ROUNDS2(X11, X3, X4)
	SCHEDULE2(X7, X8, X5, X6)
	SCHEDULE2(X11, X12, X9, X10)
	MOVOU 112(AX), X13
	ROUNDS2(X8, X1, X2)
	ROUNDS2(X12, X3, X4)
	SCHEDULE2(X8, X5, X6, X7)
	SCHEDULE2(X12, X9, X10, X11)
	MOVOU 128(AX), X13
	ROUNDS2(X5, X1, X2)
	ROUNDS2(X9, X3, X4)
	SCHEDULE2(X5, X6, X7, X8)
	SCHEDULE2(X9, X10, X11, X12)
	MOVOU 144(AX), X13
	ROUNDS2(X6, X1, X2)
	ROUNDS2(X10, X3, X4)
	SCHEDULE2(X6, X7, X8, X5)
	SCHEDULE2(X10, X11, X12, X9)
	MOVOU 160(AX), X13
	ROUNDS2(X7, X1, X2)
	ROUNDS2(X11, X3, X4)
	SCHEDULE2(X7, X8, X5, X6)
	SCHEDULE2(X11, X12, X9, X10)
	MOVOU 176(AX), X13
	ROUNDS2(X8, X1, X2)
	ROUNDS2(X12, X3, X4)
	SCHEDULE2(X8, X5, X6, X7)
	SCHEDULE2(X12, X9, X10, X11)
	MOVOU 192(AX), X13
	ROUNDS2(X5, X1, X2)
	ROUNDS2(X9, X3, X4)
	MOVOU 208(AX), X13
	ROUNDS2(X6, X1, X2)
	ROUNDS2(X10, X3, X4)
	MOVOU 224(AX), X13
	ROUNDS2(X7, X1, X2)
	ROUNDS2(X11, X3, X4)
	MOVOU 240(AX), X13
	ROUNDS2(X8, X1, X2)
	ROUNDS2(X12, X3, X4)
	MOVOU s-64(SP), X13
	PADDD X13, X1
	MOVOU s-48(SP), X13
	PADDD X13, X2
	MOVOU s-32(SP), X13
	PADDD X13, X3
	MOVOU s-16(SP), X13
	PADDD X13, X4
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ block2

	MOVOU X1, 0(SI)
	MOVOU X2, 16(SI)
	MOVOU X3, 32(SI)
	MOVOU X4, 48(SI)

done2:
	RET

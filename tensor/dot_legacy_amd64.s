//go:build amd64 && !purego

#include "textflag.h"
#include "reduce_amd64.h"

// Kernels for the legacy quant types Q4_1, Q5_0 and Q5_1 and for BF16; see
// dot_legacy_amd64.go. Each matches its pure-Go twin in dot.go bit for bit:
// the integer block sums are exact (any order), the float operations are the
// twin's (separate multiplies and adds, in block order).
//
// Block layouts: Q4_1 = d, m (f16), 16 nibble bytes (20 bytes); Q5_0 = d,
// qh (u32), 16 nibble bytes (22); Q5_1 = d, m, qh, 16 nibble bytes (24);
// Q8_0 = d, 32 int8 (34); Q8_1 = d, s (f16), 32 int8 (36). Element j < 16 of
// a nibble block is the low nibble of byte j, element j+16 its high nibble;
// bit i of qh is the fifth bit of element i.

// Byte shuffle spreading the four bytes of qh over eight bytes each.
DATA qhSpread<>+0(SB)/8, $0x0000000000000000
DATA qhSpread<>+8(SB)/8, $0x0101010101010101
DATA qhSpread<>+16(SB)/8, $0x0202020202020202
DATA qhSpread<>+24(SB)/8, $0x0303030303030303
GLOBL qhSpread<>(SB), RODATA|NOPTR, $32

// One bit per byte, byte i testing bit i%8.
DATA qhBits<>+0(SB)/8, $0x8040201008040201
DATA qhBits<>+8(SB)/8, $0x8040201008040201
DATA qhBits<>+16(SB)/8, $0x8040201008040201
DATA qhBits<>+24(SB)/8, $0x8040201008040201
GLOBL qhBits<>(SB), RODATA|NOPTR, $32

// NIBBLES(off, Y): byte i of Y = the nibble of element i of the 16 bytes at
// off(SI) (Y15 = 0x0f bytes; clobbers Y2).
#define NIBBLES(off, Y) \
	VMOVDQU     off(SI), X1 \
	VPSRLW      $4, X1, X2 \
	VINSERTI128 $1, X2, Y1, Y \
	VPAND       Y15, Y, Y

// HIBITS(off, Y): byte i of Y = 16 if bit i of the u32 at off(SI) is set, else
// 0 (Y12 = qhSpread, Y11 = qhBits, Y14 = 0x10 bytes).
#define HIBITS(off, Y) \
	VPBROADCASTD off(SI), Y \
	VPSHUFB      Y12, Y, Y \
	VPAND        Y11, Y, Y \
	VPCMPEQB     Y11, Y, Y \
	VPAND        Y14, Y, Y

// Q41_INT(off, xoff, Y): Y = eight int32 partial sums of q·y for the Q4_1
// block at off(SI) and the Q8_1 block at xoff(DI) (Y13 = 0x0001 words).
#define Q41_INT(off, xoff, Y) \
	NIBBLES(off+4, Y1) \
	VPMADDUBSW (xoff+4)(DI), Y1, Y \
	VPMADDWD   Y13, Y, Y

// Q50_INT(off, xoff, Y): Y = eight int32 partial sums of (q-16)·y for the
// Q5_0 block at off(SI) and the Q8_0 block at xoff(DI): (q·y) - (16·y), both
// within int16 before the widening.
#define Q50_INT(off, xoff, Y) \
	NIBBLES(off+6, Y1) \
	HIBITS(off+2, Y4) \
	VPOR       Y4, Y1, Y1 \
	VMOVDQU    (xoff+2)(DI), Y3 \
	VPMADDUBSW Y3, Y1, Y \
	VPMADDUBSW Y3, Y14, Y5 \
	VPSUBW     Y5, Y, Y \
	VPMADDWD   Y13, Y, Y

// Q51_INT(off, xoff, Y): Y = eight int32 partial sums of q·y for the Q5_1
// block at off(SI) and the Q8_1 block at xoff(DI).
#define Q51_INT(off, xoff, Y) \
	NIBBLES(off+8, Y1) \
	HIBITS(off+4, Y4) \
	VPOR       Y4, Y1, Y1 \
	VPMADDUBSW (xoff+4)(DI), Y1, Y \
	VPMADDWD   Y13, Y, Y

// SUM4BLOCKS: X6 = [s0, s1, s2, s3] from the lane sums of four blocks in
// Y6..Y9 (clobbers Y7..Y9).
#define SUM4BLOCKS \
	VPHADDD      Y7, Y6, Y6 \
	VPHADDD      Y9, Y8, Y8 \
	VPHADDD      Y8, Y6, Y6 \
	VEXTRACTI128 $1, Y6, X7 \
	VPADDD       X7, X6, X6

// SUM1BLOCK: X4 lane 0 = the sum of the eight int32 lanes of Y4 (clobbers X5).
#define SUM1BLOCK \
	VEXTRACTI128 $1, Y4, X5 \
	VPADDD       X5, X4, X4 \
	VPSHUFD      $0x4e, X4, X5 \
	VPADDD       X5, X4, X4 \
	VPSHUFD      $0xb1, X4, X5 \
	VPADDD       X5, X4, X4

// CONSTS loads the constant registers of the integer macros.
#define CONSTS \
	MOVL         $0x0f0f0f0f, AX \
	VMOVD        AX, X15 \
	VPBROADCASTD X15, Y15 \
	MOVL         $0x10101010, AX \
	VMOVD        AX, X14 \
	VPBROADCASTD X14, Y14 \
	MOVL         $0x00010001, AX \
	VMOVD        AX, X13 \
	VPBROADCASTD X13, Y13 \
	VMOVDQU      qhSpread<>(SB), Y12 \
	VMOVDQU      qhBits<>(SB), Y11 \
	MOVL         $0x3f800000, AX \
	VMOVD        AX, X10 \
	VPBROADCASTD X10, X10

// func dotQ5_0Q8_0AVX2(nb int, w, x *byte) float32
// Per block, the eight int32 lanes of the products (lane L: elements 4L to
// 4L+3) times d_w·d_x, accumulated with FMA; the lanes summed at the end.
TEXT ·dotQ5_0Q8_0AVX2(SB), NOSPLIT, $0-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	CONSTS
	VXORPS Y0, Y0, Y0
	TESTQ  CX, CX
	JZ     q50done

q50loop:
	PREFETCHT0 2048(SI)
	Q50_INT(0, 0, Y4)
	VCVTDQ2PS    Y4, Y4
	MOVWLZX      (SI), AX
	MOVWLZX      (DI), BX
	VMOVD        AX, X5
	VMOVD        BX, X6
	VCVTPH2PS    X5, X5
	VCVTPH2PS    X6, X6
	VMULSS       X6, X5, X5 // d_w·d_x
	VBROADCASTSS X5, Y5
	VFMADD231PS  Y4, Y5, Y0
	ADDQ         $22, SI
	ADDQ         $34, DI
	DECQ         CX
	JNZ          q50loop

q50done:
	SUM8(Y0, X0, X2)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// SCALES4(wsz): Y8 = [d0, ms0, d1, ms1, d2, ms2, d3, ms3] for four weight
// blocks of wsz bytes at SI (d, m) and four Q8_1 blocks at DI (d, s), where
// d_i = d_w·d_x and ms_i = m_w·s_x.
#define SCALES4(wsz) \
	VMOVD     (SI), X8 \
	VPINSRD   $1, wsz(SI), X8, X8 \
	VPINSRD   $2, (2*wsz)(SI), X8, X8 \
	VPINSRD   $3, (3*wsz)(SI), X8, X8 \
	VMOVD     (DI), X9 \
	VPINSRD   $1, 36(DI), X9, X9 \
	VPINSRD   $2, 72(DI), X9, X9 \
	VPINSRD   $3, 108(DI), X9, X9 \
	VCVTPH2PS X8, Y8 \
	VCVTPH2PS X9, Y9 \
	VMULPS    Y9, Y8, Y8

// ACC4: from the integer sums X6 = [s0..s3] and SCALES4's Y8, add s_i·d_i to
// lane 0 of X0 (sum) and ms_i to lane 1 (summs), block by block (X10 = 1.0;
// lanes 2 and 3 of X0 are scratch).
#define ACC4 \
	VCVTDQ2PS    X6, X6 \
	VUNPCKLPS    X10, X6, X7 \
	VUNPCKHPS    X10, X6, X9 \
	VINSERTF128  $1, X9, Y7, Y7 \
	VMULPS       Y8, Y7, Y7 \
	VADDPS       X7, X0, X0 \
	VMOVHLPS     X7, X7, X9 \
	VADDPS       X9, X0, X0 \
	VEXTRACTF128 $1, Y7, X7 \
	VADDPS       X7, X0, X0 \
	VMOVHLPS     X7, X7, X9 \
	VADDPS       X9, X0, X0

// ACC1: the same for one block: integer sum in X4 lane 0, blocks at SI, DI.
#define ACC1 \
	VCVTDQ2PS X4, X4 \
	VUNPCKLPS X10, X4, X4 \
	VMOVD     (SI), X5 \
	VMOVD     (DI), X6 \
	VCVTPH2PS X5, X5 \
	VCVTPH2PS X6, X6 \
	VMULPS    X6, X5, X5 \
	VMULPS    X5, X4, X4 \
	VADDPS    X4, X0, X0

// FINISH1: return sum + summs from lanes 0 and 1 of X0.
#define FINISH1 \
	VMOVSHDUP X0, X1 \
	VADDSS    X1, X0, X0 \
	VMOVSS    X0, ret+24(FP) \
	VZEROUPPER \
	RET

// func dotQ4_1Q8_1AVX2(nb int, w, x *byte) float32
// sum += float32(s)·(d_w·d_x) and summs += m_w·s_x per block; sum + summs.
TEXT ·dotQ4_1Q8_1AVX2(SB), NOSPLIT, $0-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	CONSTS
	VXORPS X0, X0, X0
	CMPQ   CX, $4
	JLT    q41one

q41four:
	PREFETCHT0 2048(SI)
	PREFETCHT0 2112(SI)
	Q41_INT(0, 0, Y6)
	Q41_INT(20, 36, Y7)
	Q41_INT(40, 72, Y8)
	Q41_INT(60, 108, Y9)
	SUM4BLOCKS
	SCALES4(20)
	ACC4
	ADDQ $80, SI
	ADDQ $144, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  q41four

q41one:
	TESTQ CX, CX
	JZ    q41done
	Q41_INT(0, 0, Y4)
	SUM1BLOCK
	ACC1
	ADDQ  $20, SI
	ADDQ  $36, DI
	DECQ  CX
	JMP   q41one

q41done:
	FINISH1

// func dotQ5_1Q8_1AVX2(nb int, w, x *byte) float32
// As dotQ4_1Q8_1AVX2 with five-bit quants.
TEXT ·dotQ5_1Q8_1AVX2(SB), NOSPLIT, $0-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	CONSTS
	VXORPS X0, X0, X0
	CMPQ   CX, $4
	JLT    q51one

q51four:
	PREFETCHT0 2048(SI)
	PREFETCHT0 2112(SI)
	Q51_INT(0, 0, Y6)
	Q51_INT(24, 36, Y7)
	Q51_INT(48, 72, Y8)
	Q51_INT(72, 108, Y9)
	SUM4BLOCKS
	SCALES4(24)
	ACC4
	ADDQ $96, SI
	ADDQ $144, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  q51four

q51one:
	TESTQ CX, CX
	JZ    q51done
	Q51_INT(0, 0, Y4)
	SUM1BLOCK
	ACC1
	ADDQ  $24, SI
	ADDQ  $36, DI
	DECQ  CX
	JMP   q51one

q51done:
	FINISH1

// func dotBF16F32AVX2(n int, w *uint16, x *float32) float32
// Four float lanes, element i in lane i%4, each product rounded and then
// added (VMULPS, VADDPS) in element order; then (s0+s2)+(s1+s3) and the
// remaining n%4 products added one by one.
TEXT ·dotBF16F32AVX2(SB), NOSPLIT, $0-28
	MOVQ   n+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	XORQ   AX, AX
	VXORPS X0, X0, X0
	MOVQ   CX, DX
	ANDQ   $-16, DX
	CMPQ   AX, DX
	JGE    bf16by4

bf16loop:
	PREFETCHT0   2048(SI)(AX*2)
	VPMOVZXWD    (SI)(AX*2), Y1
	VPMOVZXWD    16(SI)(AX*2), Y2
	VPSLLD       $16, Y1, Y1
	VPSLLD       $16, Y2, Y2
	VMULPS       (DI)(AX*4), Y1, Y1
	VMULPS       32(DI)(AX*4), Y2, Y2
	VADDPS       X1, X0, X0
	VEXTRACTF128 $1, Y1, X1
	VADDPS       X1, X0, X0
	VADDPS       X2, X0, X0
	VEXTRACTF128 $1, Y2, X2
	VADDPS       X2, X0, X0
	ADDQ         $16, AX
	CMPQ         AX, DX
	JLT          bf16loop

bf16by4:
	MOVQ CX, DX
	ANDQ $-4, DX
	CMPQ AX, DX
	JGE  bf16red

bf16loop4:
	VPMOVZXWD (SI)(AX*2), X1
	VPSLLD    $16, X1, X1
	VMULPS    (DI)(AX*4), X1, X1
	VADDPS    X1, X0, X0
	ADDQ      $4, AX
	CMPQ      AX, DX
	JLT       bf16loop4

bf16red:
	SUM4(X0, X1)
	CMPQ      AX, CX
	JGE       bf16done

bf16tail:
	MOVWLZX (SI)(AX*2), BX
	SHLL    $16, BX
	VMOVD   BX, X1
	VMULSS  (DI)(AX*4), X1, X1
	VADDSS  X1, X0, X0
	INCQ    AX
	CMPQ    AX, CX
	JLT     bf16tail

bf16done:
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// The AVX-512 (BW, VL) variants of the five-bit kernels: the fifth bits are
// loaded straight into a mask register and added as 16 to the masked bytes,
// instead of being spread over bytes with shuffles and compares. Everything
// else is as in the AVX2 kernels above.

// HIBITS512(off, Y): add 16 to byte i of Y where bit i of the u32 at off(SI)
// is set (Y14 = 0x10 bytes; clobbers K1).
#define HIBITS512(off, Y) \
	KMOVD  off(SI), K1 \
	VPADDB Y14, Y, K1, Y

// Q50_INT512(off, xoff, Y): as Q50_INT.
#define Q50_INT512(off, xoff, Y) \
	NIBBLES(off+6, Y1) \
	HIBITS512(off+2, Y1) \
	VMOVDQU    (xoff+2)(DI), Y3 \
	VPMADDUBSW Y3, Y1, Y \
	VPMADDUBSW Y3, Y14, Y5 \
	VPSUBW     Y5, Y, Y \
	VPMADDWD   Y13, Y, Y

// Q51_INT512(off, xoff, Y): as Q51_INT.
#define Q51_INT512(off, xoff, Y) \
	NIBBLES(off+8, Y1) \
	HIBITS512(off+4, Y1) \
	VPMADDUBSW (xoff+4)(DI), Y1, Y \
	VPMADDWD   Y13, Y, Y

// func dotQ5_0Q8_0AVX512(nb int, w, x *byte) float32
TEXT ·dotQ5_0Q8_0AVX512(SB), NOSPLIT, $0-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	CONSTS
	VXORPS Y0, Y0, Y0
	TESTQ  CX, CX
	JZ     q50zdone

q50zloop:
	PREFETCHT0 2048(SI)
	Q50_INT512(0, 0, Y4)
	VCVTDQ2PS    Y4, Y4
	MOVWLZX      (SI), AX
	MOVWLZX      (DI), BX
	VMOVD        AX, X5
	VMOVD        BX, X6
	VCVTPH2PS    X5, X5
	VCVTPH2PS    X6, X6
	VMULSS       X6, X5, X5 // d_w·d_x
	VBROADCASTSS X5, Y5
	VFMADD231PS  Y4, Y5, Y0
	ADDQ         $22, SI
	ADDQ         $34, DI
	DECQ         CX
	JNZ          q50zloop

q50zdone:
	SUM8(Y0, X0, X2)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotQ5_1Q8_1AVX512(nb int, w, x *byte) float32
TEXT ·dotQ5_1Q8_1AVX512(SB), NOSPLIT, $0-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	CONSTS
	VXORPS X0, X0, X0
	CMPQ   CX, $4
	JLT    q51zone

q51zfour:
	PREFETCHT0 2048(SI)
	PREFETCHT0 2112(SI)
	Q51_INT512(0, 0, Y6)
	Q51_INT512(24, 36, Y7)
	Q51_INT512(48, 72, Y8)
	Q51_INT512(72, 108, Y9)
	SUM4BLOCKS
	SCALES4(24)
	ACC4
	ADDQ $96, SI
	ADDQ $144, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  q51zfour

q51zone:
	TESTQ CX, CX
	JZ    q51zdone
	Q51_INT512(0, 0, Y4)
	SUM1BLOCK
	ACC1
	ADDQ  $24, SI
	ADDQ  $36, DI
	DECQ  CX
	JMP   q51zone

q51zdone:
	FINISH1

//go:build amd64 && !purego

#include "textflag.h"
#include "reduce_amd64.h"

// The AVX2 kernels of the K-quants Q5_K, Q3_K and Q2_K against Q8_K
// activations; see dot_k_amd64.go. Go assembler operand order: sources first,
// destination last (VFMADD231PS a, b, c computes c = b*a + c).
//
// Q8_K block (292 bytes): d f32 @0, 256 int8 @4, 16 int16 bsums @260.

// HSUMD(Y, X, T) adds the eight int32 lanes of Y into every lane of X (Y's low
// half). Integer sums are exact (modulo 2^32, like Go's int32), so the order
// does not matter.
#define HSUMD(Y, X, T) \
	VEXTRACTI128 $1, Y, T \
	VPADDD       T, X, X  \
	VPSHUFD      $0x4e, X, T \
	VPADDD       T, X, X  \
	VPSHUFD      $0xb1, X, T \
	VPADDD       T, X, X

// BCAST8(reg, val) broadcasts the 32-bit constant val to every lane of reg
// (given as its Y and X names).
#define BCAST8(Y, X, val) \
	MOVL         val, AX \
	VMOVD        AX, X   \
	VPBROADCASTD X, Y

// kWordShuf: 8 VPSHUFB controls of 32 bytes; control i broadcasts word i of
// each 128-bit lane to the whole lane.
DATA kWordShuf<>+0(SB)/8, $0x0100010001000100
DATA kWordShuf<>+8(SB)/8, $0x0100010001000100
DATA kWordShuf<>+16(SB)/8, $0x0100010001000100
DATA kWordShuf<>+24(SB)/8, $0x0100010001000100
DATA kWordShuf<>+32(SB)/8, $0x0302030203020302
DATA kWordShuf<>+40(SB)/8, $0x0302030203020302
DATA kWordShuf<>+48(SB)/8, $0x0302030203020302
DATA kWordShuf<>+56(SB)/8, $0x0302030203020302
DATA kWordShuf<>+64(SB)/8, $0x0504050405040504
DATA kWordShuf<>+72(SB)/8, $0x0504050405040504
DATA kWordShuf<>+80(SB)/8, $0x0504050405040504
DATA kWordShuf<>+88(SB)/8, $0x0504050405040504
DATA kWordShuf<>+96(SB)/8, $0x0706070607060706
DATA kWordShuf<>+104(SB)/8, $0x0706070607060706
DATA kWordShuf<>+112(SB)/8, $0x0706070607060706
DATA kWordShuf<>+120(SB)/8, $0x0706070607060706
DATA kWordShuf<>+128(SB)/8, $0x0908090809080908
DATA kWordShuf<>+136(SB)/8, $0x0908090809080908
DATA kWordShuf<>+144(SB)/8, $0x0908090809080908
DATA kWordShuf<>+152(SB)/8, $0x0908090809080908
DATA kWordShuf<>+160(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA kWordShuf<>+168(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA kWordShuf<>+176(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA kWordShuf<>+184(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA kWordShuf<>+192(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA kWordShuf<>+200(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA kWordShuf<>+208(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA kWordShuf<>+216(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA kWordShuf<>+224(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA kWordShuf<>+232(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA kWordShuf<>+240(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA kWordShuf<>+248(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL kWordShuf<>(SB), RODATA|NOPTR, $256

// kEvenOdd: VPSHUFB control gathering the even bytes of 16 into the low 8 and
// the odd bytes into the high 8.
DATA kEvenOdd<>+0(SB)/8, $0x0e0c0a0806040200
DATA kEvenOdd<>+8(SB)/8, $0x0f0d0b0907050301
GLOBL kEvenOdd<>(SB), RODATA|NOPTR, $16

// Q5_K block (176 bytes): d f16 @0, dmin f16 @2, 12 scale bytes @4, 32 high-bit
// bytes @16, 128 nibble bytes @48.
//
// Q5K_GROUP(g): 64 elements (scales 2g and 2g+1) into the int32 lanes of Y9;
// Y13 holds the high-bit bytes, the scales are words at 0(SP).
#define Q5K_GROUP(g) \
	VMOVDQU      (48+32*g)(SI), Y10 \
	VPSRLW       $4, Y10, Y11 \
	VPAND        Y15, Y10, Y10 \
	VPAND        Y15, Y11, Y11 \
	VPSRLW       $(2*g), Y13, Y12 \
	VPSLLW       $4, Y12, Y7 \
	VPAND        Y14, Y7, Y7 \
	VPOR         Y7, Y10, Y10 \
	VPSLLW       $3, Y12, Y7 \
	VPAND        Y14, Y7, Y7 \
	VPOR         Y7, Y11, Y11 \
	VPMADDUBSW   (4+64*g)(DI), Y10, Y10 \
	VPMADDUBSW   (36+64*g)(DI), Y11, Y11 \
	VPBROADCASTW (4*g)(SP), Y12 \
	VPBROADCASTW (4*g+2)(SP), Y7 \
	VPMADDWD     Y12, Y10, Y10 \
	VPMADDWD     Y7, Y11, Y11 \
	VPADDD       Y10, Y9, Y9 \
	VPADDD       Y11, Y9, Y9

// func dotQ5_KQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·dotQ5_KQ8_KAVX2(SB), NOSPLIT, $32-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	BCAST8(Y15, X15, $0x0f0f0f0f)
	BCAST8(Y14, X14, $0x10101010)
	VXORPS Y0, Y0, Y0 // acc: eight FMA lanes
	VXORPS X1, X1, X1 // summs

q5kloop:
	PREFETCHT0 2048(SI)
	PREFETCHT0 2112(SI)
	PREFETCHT0 2176(SI)
	// unpack the 6-bit scales and mins
	MOVL    4(SI), AX  // s0..3
	MOVL    8(SI), BX  // s4..7
	MOVL    12(SI), DX // s8..11
	MOVL    DX, R8
	SHRL    $4, R8
	ANDL    $0x0f0f0f0f, R8
	MOVL    BX, R9
	SHRL    $6, R9
	ANDL    $0x03030303, R9
	SHLL    $4, R9
	ORL     R9, R8 // mins 4..7
	MOVL    BX, R10
	ANDL    $0x3f3f3f3f, R10 // mins 0..3
	MOVL    DX, R11
	ANDL    $0x0f0f0f0f, R11
	MOVL    AX, R12
	SHRL    $6, R12
	ANDL    $0x03030303, R12
	SHLL    $4, R12
	ORL     R12, R11 // scales 4..7
	ANDL    $0x3f3f3f3f, AX // scales 0..3
	VMOVD   AX, X2
	VPINSRD $1, R11, X2, X2
	VPINSRD $2, R10, X2, X2
	VPINSRD $3, R8, X2, X2
	VPMOVZXBW X2, Y2 // words: scales 0..7, mins 0..7
	VMOVDQU Y2, 0(SP)

	// mins = Σ mn[j]·(bs[2j]+bs[2j+1]), one int32
	VEXTRACTI128 $1, Y2, X4
	VPUNPCKHWD   X4, X4, X5
	VPUNPCKLWD   X4, X4, X4
	VINSERTI128  $1, X5, Y4, Y4 // mn0,mn0,mn1,mn1,…,mn7,mn7
	VPMADDWD     260(DI), Y4, Y3
	HSUMD(Y3, X3, X5)
	VCVTDQ2PS    X3, X3
	VMOVD        0(SI), X5
	VCVTPH2PS    X5, X5 // [d, dmin]
	VBROADCASTSS 0(DI), X6
	VMULPS       X6, X5, X5 // [yd*d, yd*dmin]
	VPSHUFD      $0x55, X5, X7
	VFNMADD231SS X3, X7, X1 // summs += (-yd*dmin) * mins
	VBROADCASTSS X5, Y8

	VMOVDQU 16(SI), Y13
	VPXOR   Y9, Y9, Y9
	Q5K_GROUP(0)
	Q5K_GROUP(1)
	Q5K_GROUP(2)
	Q5K_GROUP(3)
	VCVTDQ2PS   Y9, Y9
	VFMADD231PS Y9, Y8, Y0

	ADDQ $176, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  q5kloop

	SUM8(Y0, X0, X2)
	VADDSS X1, X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// Q3_K block (110 bytes): hmask[32] @0, 2-bit quants[64] @32, 12 scale bytes
// @96, d f16 @108.
//
// Q3K_PART(j, i, yoff): the 32 elements of shift 2j in the quant bytes Y5,
// high-bit mask bit i (of the complemented mask Y3), activations at yoff(DI),
// scaled by scales 2i (low 16) and 2i+1 (high 16) from Y2, into Y9:
// Σ (q - 4·[bit clear])·y = Σ q·y - 4·Σ [bit clear]·y.
#define Q3K_PART(j, i, yoff) \
	VPSRLW     $(2*j), Y5, Y6 \
	VPAND      Y15, Y6, Y6 \
	VPSRLW     $i, Y3, Y7 \
	VPAND      Y14, Y7, Y7 \
	VMOVDQU    yoff(DI), Y8 \
	VPMADDUBSW Y8, Y6, Y6 \
	VPMADDUBSW Y8, Y7, Y7 \
	VPSLLW     $2, Y7, Y7 \
	VPSUBW     Y7, Y6, Y6 \
	VPSHUFB    (32*i)(R8), Y2, Y7 \
	VPMADDWD   Y7, Y6, Y6 \
	VPADDD     Y6, Y9, Y9

// func dotQ3_KQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·dotQ3_KQ8_KAVX2(SB), NOSPLIT, $0-28
	MOVQ    nb+0(FP), CX
	MOVQ    w+8(FP), SI
	MOVQ    x+16(FP), DI
	LEAQ    kWordShuf<>(SB), R8
	BCAST8(Y15, X15, $0x03030303)
	BCAST8(Y14, X14, $0x01010101)
	BCAST8(Y13, X13, $0x20202020)
	VMOVDQU kEvenOdd<>(SB), X12
	VPCMPEQB Y11, Y11, Y11 // all ones
	VXORPS  Y0, Y0, Y0

q3kloop:
	PREFETCHT0 2048(SI)
	PREFETCHT0 2112(SI)
	// the sixteen 6-bit scales, minus 32, as int16: even ones in the low
	// lane of Y2, odd ones in the high lane
	MOVL    96(SI), AX  // a0
	MOVL    100(SI), BX // a1
	MOVL    104(SI), DX // t
	MOVL    AX, R9
	ANDL    $0x0f0f0f0f, R9
	MOVL    DX, R10
	ANDL    $0x03030303, R10
	SHLL    $4, R10
	ORL     R10, R9 // scales 0..3
	MOVL    BX, R10
	ANDL    $0x0f0f0f0f, R10
	MOVL    DX, R11
	SHRL    $2, R11
	ANDL    $0x03030303, R11
	SHLL    $4, R11
	ORL     R11, R10 // scales 4..7
	SHRL    $4, AX
	ANDL    $0x0f0f0f0f, AX
	MOVL    DX, R11
	SHRL    $4, R11
	ANDL    $0x03030303, R11
	SHLL    $4, R11
	ORL     R11, AX // scales 8..11
	SHRL    $4, BX
	ANDL    $0x0f0f0f0f, BX
	SHRL    $6, DX
	ANDL    $0x03030303, DX
	SHLL    $4, DX
	ORL     DX, BX // scales 12..15
	VMOVD   R9, X2
	VPINSRD $1, R10, X2, X2
	VPINSRD $2, AX, X2, X2
	VPINSRD $3, BX, X2, X2
	VPSUBB  X13, X2, X2
	VPSHUFB X12, X2, X2
	VPMOVSXBW X2, Y2

	VMOVDQU (SI), Y3
	VPXOR   Y11, Y3, Y3 // complemented high-bit mask
	VPXOR   Y9, Y9, Y9
	VMOVDQU 32(SI), Y5
	Q3K_PART(0, 0, 4)
	Q3K_PART(1, 1, 36)
	Q3K_PART(2, 2, 68)
	Q3K_PART(3, 3, 100)
	VMOVDQU 64(SI), Y5
	Q3K_PART(0, 4, 132)
	Q3K_PART(1, 5, 164)
	Q3K_PART(2, 6, 196)
	Q3K_PART(3, 7, 228)
	VCVTDQ2PS    Y9, Y9
	MOVWLZX      108(SI), AX
	VMOVD        AX, X10
	VCVTPH2PS    X10, X10
	VMULSS       (DI), X10, X10 // yd·d
	VBROADCASTSS X10, Y10
	VFMADD231PS  Y9, Y10, Y0

	ADDQ $110, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  q3kloop

	SUM8(Y0, X0, X2)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// Q2_K block (84 bytes): 16 scale bytes @0 (scale low nibble, min high
// nibble), 2-bit quants[64] @16, d f16 @80, dmin f16 @82.
//
// Q2K_PART(j, i, yoff): the 32 elements of shift 2j in the quant bytes Y5,
// activations at yoff(DI), scaled by scales 2i and 2i+1 from Y2, into Y9.
#define Q2K_PART(j, i, yoff) \
	VPSRLW     $(2*j), Y5, Y6 \
	VPAND      Y15, Y6, Y6 \
	VPMADDUBSW yoff(DI), Y6, Y6 \
	VPSHUFB    (32*i)(R8), Y2, Y7 \
	VPMADDWD   Y7, Y6, Y6 \
	VPADDD     Y6, Y9, Y9

// func dotQ2_KQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·dotQ2_KQ8_KAVX2(SB), NOSPLIT, $0-28
	MOVQ    nb+0(FP), CX
	MOVQ    w+8(FP), SI
	MOVQ    x+16(FP), DI
	LEAQ    kWordShuf<>(SB), R8
	BCAST8(Y15, X15, $0x03030303)
	BCAST8(Y13, X13, $0x0f0f0f0f)
	BCAST8(Y14, X14, $0x80000000)
	VMOVDQU kEvenOdd<>(SB), X12
	VXORPS  Y0, Y0, Y0

q2kloop:
	PREFETCHT0 2048(SI)
	PREFETCHT0 2112(SI)
	// d = yd·d_w in Y8, dmin = -(yd·dmin_w) in Y1
	VMOVD        80(SI), X10
	VCVTPH2PS    X10, X10 // [d_w, dmin_w]
	VBROADCASTSS (DI), X11
	VMULPS       X11, X10, X10
	VBROADCASTSS X10, Y8
	VMOVSHDUP    X10, X10
	VBROADCASTSS X10, Y1
	VXORPS       Y14, Y1, Y1

	VMOVDQU   (SI), X2
	VPSRLW    $4, X2, X3
	VPAND     X13, X3, X3 // mins
	VPAND     X13, X2, X2 // scales
	// lane L: min[2L]·bs[2L] + min[2L+1]·bs[2L+1], times dmin
	VPMOVZXBW   X3, Y3
	VPMADDWD    260(DI), Y3, Y3
	VCVTDQ2PS   Y3, Y3
	VFMADD231PS Y3, Y1, Y0
	VPSHUFB     X12, X2, X2
	VPMOVZXBW   X2, Y2 // even scales in the low lane, odd in the high

	VPXOR   Y9, Y9, Y9
	VMOVDQU 16(SI), Y5
	Q2K_PART(0, 0, 4)
	Q2K_PART(1, 1, 36)
	Q2K_PART(2, 2, 68)
	Q2K_PART(3, 3, 100)
	VMOVDQU 48(SI), Y5
	Q2K_PART(0, 4, 132)
	Q2K_PART(1, 5, 164)
	Q2K_PART(2, 6, 196)
	Q2K_PART(3, 7, 228)
	VCVTDQ2PS   Y9, Y9
	VFMADD231PS Y9, Y8, Y0

	ADDQ $84, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  q2kloop

	SUM8(Y0, X0, X2)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

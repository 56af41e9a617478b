//go:build amd64 && !purego

#include "textflag.h"
#include "reduce_amd64.h"

// HROWS4_ARGS loads the arguments of the four-query row kernels (before
// any TEXT, where vet does not take its frame offsets for another
// function's).
#define HROWS4_ARGS \
	MOVQ n+0(FP), CX \
	MOVQ q+8(FP), DI \
	MOVQ k+16(FP), SI \
	MOVQ stride+24(FP), DX \
	MOVQ rows+32(FP), BX \
	MOVQ out+40(FP), R8 \
	MOVQ CX, R10 \
	SHLQ $2, R10 \
	LEAQ (DI)(R10*1), R11 \
	LEAQ (R11)(R10*1), R12 \
	LEAQ (R12)(R10*1), R13 \
	MOVQ o1+48(FP), R9 \
	MOVQ o2+56(FP), R10 \
	MOVQ o3+64(FP), R14


// Hand-written kernels; see dot_amd64.go. Go assembler operand order: sources
// first, destination last (VFMADD231PS a, b, c computes c = b*a + c).

// func dotQ8_0Q8_0AVX2(nb int, w, x *byte) float32
TEXT ·dotQ8_0Q8_0AVX2(SB), NOSPLIT, $0-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	VXORPS Y0, Y0, Y0

q80loop:
	VPMOVSXBW  2(SI), Y1
	VPMOVSXBW  18(SI), Y2
	VPMOVSXBW  2(DI), Y3
	VPMOVSXBW  18(DI), Y4
	VPMADDWD   Y3, Y1, Y1
	VPMADDWD   Y4, Y2, Y2
	VPHADDD    Y2, Y1, Y1  // lanes: groups of 4 in order 0,1,4,5 | 2,3,6,7
	VCVTDQ2PS  Y1, Y1
	MOVWLZX    (SI), AX
	MOVWLZX    (DI), BX
	VMOVD      AX, X5
	VMOVD      BX, X6
	VCVTPH2PS  X5, X5
	VCVTPH2PS  X6, X6
	VMULSS     X6, X5, X5
	VBROADCASTSS X5, Y5
	VFMADD231PS Y1, Y5, Y0
	ADDQ       $34, SI
	ADDQ       $34, DI
	DECQ       CX
	JNZ        q80loop

	VPERMQ $0xD8, Y0, Y0 // back to lanes 0..7
	SUM8(Y0, X0, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// Q40_INT(off, xoff, Y): Y = the eight int32 partial sums of (q-8)·y for the
// Q4_0 block at off(SI) and the Q8_0 block at xoff(DI).
#define Q40_INT(off, xoff, Y) \
	VMOVDQU     (off+2)(SI), X1 \
	VPSRLW      $4, X1, X2 \
	VINSERTI128 $1, X2, Y1, Y1 \
	VPAND       Y15, Y1, Y1 \
	VMOVDQU     (xoff+2)(DI), Y3 \
	VPMADDUBSW  Y3, Y1, Y \
	VPMADDUBSW  Y3, Y14, Y5 \
	VPSUBW      Y5, Y, Y \
	VPMADDWD    Y13, Y, Y

// func dotQ4_0Q8_0AVX2(nb int, w, x *byte) float32
TEXT ·dotQ4_0Q8_0AVX2(SB), NOSPLIT, $0-28
	MOVQ         nb+0(FP), CX
	MOVQ         w+8(FP), SI
	MOVQ         x+16(FP), DI
	MOVL         $0x0f0f0f0f, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Y15
	MOVL         $0x08080808, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14
	MOVL         $0x00010001, AX
	VMOVD        AX, X13
	VPBROADCASTD X13, Y13
	VXORPS       X0, X0, X0
	CMPQ         CX, $4
	JLT          q40one

q40four:
	// four blocks: integer sums reduced together, scales converted together,
	// then the four FMAs in block order
	Q40_INT(0, 0, Y6)
	Q40_INT(18, 34, Y7)
	Q40_INT(36, 68, Y8)
	Q40_INT(54, 102, Y9)
	VPHADDD      Y7, Y6, Y6
	VPHADDD      Y9, Y8, Y8
	VPHADDD      Y8, Y6, Y6
	VEXTRACTI128 $1, Y6, X7
	VPADDD       X7, X6, X6 // [s0, s1, s2, s3]
	VCVTDQ2PS    X6, X6
	MOVWLZX      (SI), AX
	VMOVD        AX, X10
	VPINSRW      $1, 18(SI), X10, X10
	VPINSRW      $2, 36(SI), X10, X10
	VPINSRW      $3, 54(SI), X10, X10
	MOVWLZX      (DI), AX
	VMOVD        AX, X11
	VPINSRW      $1, 34(DI), X11, X11
	VPINSRW      $2, 68(DI), X11, X11
	VPINSRW      $3, 102(DI), X11, X11
	VCVTPH2PS    X10, X10
	VCVTPH2PS    X11, X11
	VMULPS       X11, X10, X10 // [d0, d1, d2, d3]
	VFMADD231SS  X10, X6, X0
	VMOVSHDUP    X6, X7
	VMOVSHDUP    X10, X11
	VFMADD231SS  X11, X7, X0
	VMOVHLPS     X6, X6, X7
	VMOVHLPS     X10, X10, X11
	VFMADD231SS  X11, X7, X0
	VPSHUFD      $0xff, X6, X7
	VPSHUFD      $0xff, X10, X11
	VFMADD231SS  X11, X7, X0
	ADDQ         $72, SI
	ADDQ         $136, DI
	SUBQ         $4, CX
	CMPQ         CX, $4
	JGE          q40four

q40one:
	TESTQ CX, CX
	JZ    q40done
	Q40_INT(0, 0, Y4)
	VEXTRACTI128 $1, Y4, X5
	VPADDD      X5, X4, X4
	VPSHUFD     $0x4e, X4, X5
	VPADDD      X5, X4, X4
	VPSHUFD     $0xb1, X4, X5
	VPADDD      X5, X4, X4
	VCVTDQ2PS   X4, X4
	MOVWLZX     (SI), AX
	MOVWLZX     (DI), BX
	VMOVD       AX, X5
	VMOVD       BX, X6
	VCVTPH2PS   X5, X5
	VCVTPH2PS   X6, X6
	VMULSS      X6, X5, X5
	VFMADD231SS X5, X4, X0
	ADDQ        $18, SI
	ADDQ        $34, DI
	DECQ        CX
	JMP         q40one

q40done:
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// Q4_K block: d f16 @0, dmin f16 @2, 12 scale bytes @4, 128 nibble bytes @16.
// Q8_K block: d f32 @0, 256 int8 @4, 16 int16 bsums @260.
#define Q4K_GROUP(g) \
	VMOVDQU      (16+32*g)(SI), Y10 \
	VPSRLW       $4, Y10, Y11 \
	VPAND        Y15, Y10, Y10 \
	VPAND        Y15, Y11, Y11 \
	VPMADDUBSW   (4+64*g)(DI), Y10, Y10 \
	VPMADDUBSW   (36+64*g)(DI), Y11, Y11 \
	VPBROADCASTW (4*g)(SP), Y12 \
	VPBROADCASTW (4*g+2)(SP), Y13 \
	VPMADDWD     Y12, Y10, Y10 \
	VPMADDWD     Y13, Y11, Y11 \
	VPADDD       Y10, Y9, Y9 \
	VPADDD       Y11, Y9, Y9

// func dotQ4_KQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·dotQ4_KQ8_KAVX2(SB), NOSPLIT, $32-28
	MOVQ         nb+0(FP), CX
	MOVQ         w+8(FP), SI
	MOVQ         x+16(FP), DI
	MOVL         $0x0f0f0f0f, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Y15
	VXORPS       Y0, Y0, Y0 // acc
	VXORPS       X1, X1, X1 // mins lanes

q4kloop:
	PREFETCHT0 2048(SI)
	PREFETCHT0 2112(SI)
	PREFETCHT0 2176(SI)
	// unpack the 6-bit scales and mins (ggml's kmask trick)
	MOVL  4(SI), AX  // s0..3
	MOVL  8(SI), BX  // s4..7
	MOVL  12(SI), DX // s8..11
	MOVL  DX, R8
	SHRL  $4, R8
	ANDL  $0x0f0f0f0f, R8
	MOVL  BX, R9
	SHRL  $6, R9
	ANDL  $0x03030303, R9
	SHLL  $4, R9
	ORL   R9, R8 // mins 4..7
	MOVL  BX, R10
	ANDL  $0x3f3f3f3f, R10 // mins 0..3
	MOVL  DX, R11
	ANDL  $0x0f0f0f0f, R11
	MOVL  AX, R12
	SHRL  $6, R12
	ANDL  $0x03030303, R12
	SHLL  $4, R12
	ORL   R12, R11 // scales 4..7
	ANDL  $0x3f3f3f3f, AX // scales 0..3
	VMOVD AX, X2
	VPINSRD $1, R11, X2, X2
	VPINSRD $2, R10, X2, X2
	VPINSRD $3, R8, X2, X2
	VPMOVZXBW X2, Y2 // words: scales 0..7, mins 0..7
	VMOVDQU Y2, 0(SP)

	// mins: lanes k = mn[2k]*(bs[4k]+bs[4k+1]) + mn[2k+1]*(bs[4k+2]+bs[4k+3])
	// (in int32: bsums from arbitrary bytes may overflow int16 when added)
	VEXTRACTI128 $1, Y2, X4
	VPUNPCKHWD   X4, X4, X5
	VPUNPCKLWD   X4, X4, X4
	VINSERTI128  $1, X5, Y4, Y4 // mn0,mn0,mn1,mn1,…,mn7,mn7
	VPMADDWD     260(DI), Y4, Y3
	VEXTRACTI128 $1, Y3, X5
	VPHADDD      X5, X3, X3
	VCVTDQ2PS    X3, X3
	VMOVD        0(SI), X5
	VCVTPH2PS    X5, X5 // [d, dmin]
	VBROADCASTSS 0(DI), X6
	VMULPS       X6, X5, X5 // [yd*d, yd*dmin]
	VPSHUFD      $0x55, X5, X7
	VFNMADD231PS X3, X7, X1 // accm += (-yd*dmin) * p
	VBROADCASTSS X5, Y8

	VPXOR Y9, Y9, Y9
	Q4K_GROUP(0)
	Q4K_GROUP(1)
	Q4K_GROUP(2)
	Q4K_GROUP(3)
	VCVTDQ2PS   Y9, Y9
	VFMADD231PS Y9, Y8, Y0

	ADDQ $144, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  q4kloop

	SUM8(Y0, X0, X2)
	SUM4(X1, X2)
	VADDSS    X1, X0, X0
	VMOVSS    X0, ret+24(FP)
	VZEROUPPER
	RET

// Scale shuffles for Q6_K: from eight int16 scales duplicated in both 128-bit
// lanes, broadcast word 2k in the low lane and word 2k+1 in the high lane.
DATA q6kShuf<>+0(SB)/8, $0x0100010001000100
DATA q6kShuf<>+8(SB)/8, $0x0100010001000100
DATA q6kShuf<>+16(SB)/8, $0x0302030203020302
DATA q6kShuf<>+24(SB)/8, $0x0302030203020302
DATA q6kShuf<>+32(SB)/8, $0x0504050405040504
DATA q6kShuf<>+40(SB)/8, $0x0504050405040504
DATA q6kShuf<>+48(SB)/8, $0x0706070607060706
DATA q6kShuf<>+56(SB)/8, $0x0706070607060706
DATA q6kShuf<>+64(SB)/8, $0x0908090809080908
DATA q6kShuf<>+72(SB)/8, $0x0908090809080908
DATA q6kShuf<>+80(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6kShuf<>+88(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6kShuf<>+96(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6kShuf<>+104(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6kShuf<>+112(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q6kShuf<>+120(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL q6kShuf<>(SB), RODATA|NOPTR, $128

// Q6K_PART(Q, off, k): isum += scale_k * ((Q - 32) · y[off:off+32]) in lanes.
#define Q6K_PART(Q, off, k) \
	VPMADDUBSW (off)(DI), Q, Q \
	VPMADDUBSW (off)(DI), Y13, Y11 \
	VPSUBW     Y11, Q, Q \
	VPSHUFB    (32*k)(R8), Y10, Y12 \
	VPMADDWD   Y12, Q, Q \
	VPADDD     Q, Y9, Y9

// Q6K_HALF(h): one 128-element half of a Q6_K super-block.
#define Q6K_HALF(h) \
	VPMOVSXBW   (192+8*h)(SI), X10 \
	VINSERTI128 $1, X10, Y10, Y10 \
	VMOVDQU     (64*h)(SI), Y1 \
	VMOVDQU     (64*h+32)(SI), Y2 \
	VMOVDQU     (128+32*h)(SI), Y3 \
	VPAND       Y15, Y1, Y4 \
	VPSLLW      $4, Y3, Y5 \
	VPAND       Y14, Y5, Y5 \
	VPOR        Y5, Y4, Y4 \
	VPAND       Y15, Y2, Y5 \
	VPSLLW      $2, Y3, Y6 \
	VPAND       Y14, Y6, Y6 \
	VPOR        Y6, Y5, Y5 \
	VPSRLW      $4, Y1, Y6 \
	VPAND       Y15, Y6, Y6 \
	VPAND       Y14, Y3, Y7 \
	VPOR        Y7, Y6, Y6 \
	VPSRLW      $4, Y2, Y7 \
	VPAND       Y15, Y7, Y7 \
	VPSRLW      $2, Y3, Y8 \
	VPAND       Y14, Y8, Y8 \
	VPOR        Y8, Y7, Y7 \
	Q6K_PART(Y4, 4+128*h, 0) \
	Q6K_PART(Y5, 36+128*h, 1) \
	Q6K_PART(Y6, 68+128*h, 2) \
	Q6K_PART(Y7, 100+128*h, 3)

// func dotQ6_KQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·dotQ6_KQ8_KAVX2(SB), NOSPLIT, $0-28
	MOVQ         nb+0(FP), CX
	MOVQ         w+8(FP), SI
	MOVQ         x+16(FP), DI
	LEAQ         q6kShuf<>(SB), R8
	MOVL         $0x0f0f0f0f, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Y15
	MOVL         $0x30303030, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14
	MOVL         $0x20202020, AX
	VMOVD        AX, X13
	VPBROADCASTD X13, Y13
	VXORPS       Y0, Y0, Y0

q6kloop:
	PREFETCHT0 2048(SI)
	PREFETCHT0 2112(SI)
	PREFETCHT0 2176(SI)
	PREFETCHT0 2240(SI)
	VPXOR Y9, Y9, Y9
	Q6K_HALF(0)
	Q6K_HALF(1)
	VMOVSS       (DI), X11
	MOVWLZX      208(SI), AX
	VMOVD        AX, X12
	VCVTPH2PS    X12, X12
	VMULSS       X12, X11, X11
	VBROADCASTSS X11, Y11
	VCVTDQ2PS    Y9, Y9
	VFMADD231PS  Y9, Y11, Y0
	ADDQ         $210, SI
	ADDQ         $292, DI
	DECQ         CX
	JNZ          q6kloop

	SUM8(Y0, X0, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// The float kernels (AVX-512). F32MAIN(load) runs ggml_vec_dot_f32's main
// loop: four 16-lane FMA accumulators Z0..Z3 over blocks of 64; AX counts
// elements up to DX = n &^ 63. LOADA(off, Z) loads 16 elements of a.
#define RED4(done) \
	VADDPS Z2, Z0, Z0 \
	VADDPS Z3, Z1, Z1 \
	VADDPS Z1, Z0, Z0 \
	SUM16(Z0, Y0, X0, Y1, X1)

// func dotF32AVX512(n int, a, b *float32) float32
TEXT ·dotF32AVX512(SB), NOSPLIT, $0-28
	MOVQ    n+0(FP), CX
	MOVQ    a+8(FP), SI
	MOVQ    b+16(FP), DI
	MOVQ    CX, DX
	ANDQ    $-64, DX
	XORQ    AX, AX
	VPXORD  Z0, Z0, Z0
	VPXORD  Z1, Z1, Z1
	VPXORD  Z2, Z2, Z2
	VPXORD  Z3, Z3, Z3
	CMPQ    AX, DX
	JGE     f32red

f32loop:
	VMOVUPS     (SI)(AX*4), Z4
	VMOVUPS     64(SI)(AX*4), Z5
	VMOVUPS     128(SI)(AX*4), Z6
	VMOVUPS     192(SI)(AX*4), Z7
	VFMADD231PS (DI)(AX*4), Z4, Z0
	VFMADD231PS 64(DI)(AX*4), Z5, Z1
	VFMADD231PS 128(DI)(AX*4), Z6, Z2
	VFMADD231PS 192(DI)(AX*4), Z7, Z3
	ADDQ        $64, AX
	CMPQ        AX, DX
	JLT         f32loop

f32red:
	RED4(0)
	// the leftovers: rounded products added in order up to a multiple of
	// 8 (BX), then fused multiply-adds
	MOVQ CX, BX
	SUBQ DX, BX
	ANDQ $-8, BX
	ADDQ DX, BX
	CMPQ AX, BX
	JGE  f32fused

f32mul:
	VMOVSS (SI)(AX*4), X1
	VMULSS (DI)(AX*4), X1, X1
	VADDSS X1, X0, X0
	INCQ   AX
	CMPQ   AX, BX
	JLT    f32mul

f32fused:
	CMPQ AX, CX
	JGE  f32done

f32tail:
	VMOVSS      (SI)(AX*4), X1
	VFMADD231SS (DI)(AX*4), X1, X0
	INCQ        AX
	CMPQ        AX, CX
	JLT         f32tail

f32done:
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func gemmF32AVX512(n int, a, b *float32) float32 (n a multiple of 16)
TEXT ·gemmF32AVX512(SB), NOSPLIT, $0-28
	MOVQ   n+0(FP), CX
	MOVQ   a+8(FP), SI
	MOVQ   b+16(FP), DI
	XORQ   AX, AX
	VPXORD Z0, Z0, Z0

gf32loop:
	VMOVUPS     (SI)(AX*4), Z4
	VFMADD231PS (DI)(AX*4), Z4, Z0
	ADDQ        $16, AX
	CMPQ        AX, CX
	JLT         gf32loop

	SUM16(Z0, Y0, X0, Y1, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotF16F32AVX512(n int, a *uint16, b *float32) float32
TEXT ·dotF16F32AVX512(SB), NOSPLIT, $0-28
	MOVQ   n+0(FP), CX
	MOVQ   a+8(FP), SI
	MOVQ   b+16(FP), DI
	MOVQ   CX, DX
	ANDQ   $-64, DX
	XORQ   AX, AX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	CMPQ   AX, DX
	JGE    h32red

h32loop:
	VCVTPH2PS   (SI)(AX*2), Z4
	VCVTPH2PS   32(SI)(AX*2), Z5
	VCVTPH2PS   64(SI)(AX*2), Z6
	VCVTPH2PS   96(SI)(AX*2), Z7
	VFMADD231PS (DI)(AX*4), Z4, Z0
	VFMADD231PS 64(DI)(AX*4), Z5, Z1
	VFMADD231PS 128(DI)(AX*4), Z6, Z2
	VFMADD231PS 192(DI)(AX*4), Z7, Z3
	ADDQ        $64, AX
	CMPQ        AX, DX
	JLT         h32loop

h32red:
	RED4(0)
	VCVTSS2SD X0, X0, X0
	CMPQ      AX, CX
	JGE       h32done

h32tail:
	MOVWLZX   (SI)(AX*2), BX
	VMOVD     BX, X1
	VCVTPH2PS X1, X1
	VMULSS    (DI)(AX*4), X1, X1
	VCVTSS2SD X1, X1, X1
	VADDSD    X1, X0, X0
	INCQ      AX
	CMPQ      AX, CX
	JLT       h32tail

h32done:
	VCVTSD2SS X0, X0, X0
	VMOVSS    X0, ret+24(FP)
	VZEROUPPER
	RET

// func gemmF16F32AVX512(n int, a *uint16, b *float32) float32 (n a multiple of 16)
TEXT ·gemmF16F32AVX512(SB), NOSPLIT, $0-28
	MOVQ   n+0(FP), CX
	MOVQ   a+8(FP), SI
	MOVQ   b+16(FP), DI
	XORQ   AX, AX
	VPXORD Z0, Z0, Z0

gh32loop:
	VCVTPH2PS   (SI)(AX*2), Z4
	VFMADD231PS (DI)(AX*4), Z4, Z0
	ADDQ        $16, AX
	CMPQ        AX, CX
	JLT         gh32loop

	SUM16(Z0, Y0, X0, Y1, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotF16F16AVX512(n int, a, b *uint16) float32
TEXT ·dotF16F16AVX512(SB), NOSPLIT, $0-28
	MOVQ   n+0(FP), CX
	MOVQ   a+8(FP), SI
	MOVQ   b+16(FP), DI
	MOVQ   CX, DX
	ANDQ   $-64, DX
	XORQ   AX, AX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	CMPQ   AX, DX
	JGE    hhred

hhloop:
	VCVTPH2PS   (SI)(AX*2), Z4
	VCVTPH2PS   32(SI)(AX*2), Z5
	VCVTPH2PS   64(SI)(AX*2), Z6
	VCVTPH2PS   96(SI)(AX*2), Z7
	VCVTPH2PS   (DI)(AX*2), Z8
	VCVTPH2PS   32(DI)(AX*2), Z9
	VCVTPH2PS   64(DI)(AX*2), Z10
	VCVTPH2PS   96(DI)(AX*2), Z11
	VFMADD231PS Z8, Z4, Z0
	VFMADD231PS Z9, Z5, Z1
	VFMADD231PS Z10, Z6, Z2
	VFMADD231PS Z11, Z7, Z3
	ADDQ        $64, AX
	CMPQ        AX, DX
	JLT         hhloop

hhred:
	RED4(0)
	VCVTSS2SD X0, X0, X0
	CMPQ      AX, CX
	JGE       hhdone

hhtail:
	MOVWLZX   (SI)(AX*2), BX
	VMOVD     BX, X1
	VCVTPH2PS X1, X1
	MOVWLZX   (DI)(AX*2), BX
	VMOVD     BX, X2
	VCVTPH2PS X2, X2
	VMULSS    X2, X1, X1
	VCVTSS2SD X1, X1, X1
	VADDSD    X1, X0, X0
	INCQ      AX
	CMPQ      AX, CX
	JLT       hhtail

hhdone:
	VCVTSD2SS X0, X0, X0
	VMOVSS    X0, ret+24(FP)
	VZEROUPPER
	RET

// func gemmF16F16AVX512(n int, a, b *uint16) float32 (n a multiple of 16)
TEXT ·gemmF16F16AVX512(SB), NOSPLIT, $0-28
	MOVQ   n+0(FP), CX
	MOVQ   a+8(FP), SI
	MOVQ   b+16(FP), DI
	XORQ   AX, AX
	VPXORD Z0, Z0, Z0

ghhloop:
	VCVTPH2PS   (SI)(AX*2), Z4
	VCVTPH2PS   (DI)(AX*2), Z5
	VFMADD231PS Z5, Z4, Z0
	ADDQ        $16, AX
	CMPQ        AX, CX
	JLT         ghhloop

	SUM16(Z0, Y0, X0, Y1, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// Q40X4_ACT(R, Y): Y = the int32 partial sums of (q-8)·y for the Q8_0 block
// at R, q being the unpacked weight block in Y1.
#define Q40X4_ACT(R, Y) \
	VMOVDQU    2(R), Y3 \
	VPMADDUBSW Y3, Y1, Y \
	VPMADDUBSW Y3, Y14, Y5 \
	VPSUBW     Y5, Y, Y \
	VPMADDWD   Y13, Y, Y

// func dotQ4_0Q8_0x4AVX2(nb int, w, x *byte, xs int, out *[4]float32)
// computes dotQ4_0Q8_0 of one weight row with the four activation rows at x,
// x+xs, x+2xs, x+3xs: each output keeps its own FMA chain (one lane of X0).
TEXT ·dotQ4_0Q8_0x4AVX2(SB), NOSPLIT, $0-40
	MOVQ         nb+0(FP), CX
	MOVQ         w+8(FP), SI
	MOVQ         x+16(FP), DI
	MOVQ         xs+24(FP), DX
	ROWS3(DI, DX, R8, R9, R10)
	MOVL         $0x0f0f0f0f, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Y15
	MOVL         $0x08080808, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14
	MOVL         $0x00010001, AX
	VMOVD        AX, X13
	VPBROADCASTD X13, Y13
	VXORPS       X0, X0, X0

q40x4loop:
	VMOVDQU      2(SI), X1
	VPSRLW       $4, X1, X2
	VINSERTI128  $1, X2, Y1, Y1
	VPAND        Y15, Y1, Y1
	Q40X4_ACT(DI, Y6)
	Q40X4_ACT(R8, Y7)
	Q40X4_ACT(R9, Y8)
	Q40X4_ACT(R10, Y9)
	VPHADDD      Y7, Y6, Y6
	VPHADDD      Y9, Y8, Y8
	VPHADDD      Y8, Y6, Y6
	VEXTRACTI128 $1, Y6, X7
	VPADDD       X7, X6, X6
	VCVTDQ2PS    X6, X6
	MOVWLZX      (DI), AX
	VMOVD        AX, X10
	VPINSRW      $1, (R8), X10, X10
	VPINSRW      $2, (R9), X10, X10
	VPINSRW      $3, (R10), X10, X10
	VCVTPH2PS    X10, X10
	MOVWLZX      (SI), AX
	VMOVD        AX, X11
	VCVTPH2PS    X11, X11
	VBROADCASTSS X11, X11
	VMULPS       X10, X11, X10
	VFMADD231PS  X10, X6, X0
	ADDQ         $18, SI
	ADDQ         $34, DI
	ADDQ         $34, R8
	ADDQ         $34, R9
	ADDQ         $34, R10
	DECQ         CX
	JNZ          q40x4loop

	MOVQ   out+32(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// Q80X4_ROW(R, ACC) accumulates one Q8_0 block of the activation row at R
// against the sign-extended weight block in Y1:Y2 (its scale in X7) into ACC,
// exactly as one iteration of dotQ8_0Q8_0AVX2.
#define Q80X4_ROW(R, ACC) \
	VPMOVSXBW    2(R), Y3  \
	VPMOVSXBW    18(R), Y4 \
	VPMADDWD     Y3, Y1, Y3 \
	VPMADDWD     Y4, Y2, Y4 \
	VPHADDD      Y4, Y3, Y3 \
	VCVTDQ2PS    Y3, Y3    \
	MOVWLZX      (R), AX   \
	VMOVD        AX, X5    \
	VCVTPH2PS    X5, X5    \
	VMULSS       X5, X7, X5 \
	VBROADCASTSS X5, Y5    \
	VFMADD231PS  Y3, Y5, ACC

// Q80X4_OUT(ACC, off) reduces ACC as dotQ8_0Q8_0AVX2 does and stores it at
// off(BX).
#define Q80X4_OUT(ACC, XACC, off) \
	VPERMQ $0xD8, ACC, ACC \
	SUM8(ACC, XACC, X6)    \
	VMOVSS XACC, off(BX)

// func dotQ8_0Q8_0x4AVX2(nb int, w, x *byte, xs int, out *[4]float32)
// computes dotQ8_0Q8_0 of one weight row with the four activation rows at x,
// x+xs, x+2xs, x+3xs; each output keeps its own eight FMA lanes.
TEXT ·dotQ8_0Q8_0x4AVX2(SB), NOSPLIT, $0-40
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	MOVQ   xs+24(FP), DX
	ROWS3(DI, DX, R8, R9, R10)
	VXORPS Y0, Y0, Y0
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12

q80x4loop:
	VPMOVSXBW 2(SI), Y1
	VPMOVSXBW 18(SI), Y2
	MOVWLZX   (SI), AX
	VMOVD     AX, X7
	VCVTPH2PS X7, X7
	Q80X4_ROW(DI, Y0)
	Q80X4_ROW(R8, Y10)
	Q80X4_ROW(R9, Y11)
	Q80X4_ROW(R10, Y12)
	ADDQ      $34, SI
	ADDQ      $34, DI
	ADDQ      $34, R8
	ADDQ      $34, R9
	ADDQ      $34, R10
	DECQ      CX
	JNZ       q80x4loop

	MOVQ out+32(FP), BX
	Q80X4_OUT(Y0, X0, 0)
	Q80X4_OUT(Y10, X10, 4)
	Q80X4_OUT(Y11, X11, 8)
	Q80X4_OUT(Y12, X12, 12)
	VZEROUPPER
	RET

// KEYPF_DIST sets R15 to the distance, in bytes, of the key row prefetched
// while a row is read: 16 rows ahead. A cache's key rows are a
// position apart (kvDim values, about 1 KiB), so a head's rows cross a 4 KiB
// page every few positions and the hardware prefetchers, which stop at
// pages, leave most of them to come from memory on demand; 16 rows ahead is
// enough to hide that at 4k positions (measured: +30–45 % at 1 thread and
// +65–90 % at 2 for generation at 4064 positions on an AMD EPYC).
#define KEYPF_DIST \
	MOVQ  DX, R15 \
	SHLQ  $4, R15

// NOSPF prefetches nothing in the loop of HROWS.
#define NOSPF

// WSPF prefetches, in the loop of HROWS and HROWS4, the float32 weights
// 1 KiB of row bytes ahead (the 256 bytes of a step): a matrix's rows
// follow one another, so this runs on into the next rows, and keeps more
// lines of memory in flight than the hardware prefetchers alone (measured
// on an AMD EPYC: +8–14 % for the F32 generation of a 40 MB model; the same
// for F16 rows, 128 bytes a step, made F16 generation 30 % slower).
#define WSPF \
	PREFETCHT0 1024(SI)(AX*4) \
	PREFETCHT0 1088(SI)(AX*4) \
	PREFETCHT0 1152(SI)(AX*4) \
	PREFETCHT0 1216(SI)(AX*4)

// NOPF(P) prefetches nothing.
#define NOPF(P)

// KEYPF(P) prefetches the first 256 bytes (a head of up to 128 F16 values)
// of the row R15 bytes after P.
#define KEYPF(P) \
	PREFETCHT0 (P)(R15*1) \
	PREFETCHT0 64(P)(R15*1) \
	PREFETCHT0 128(P)(R15*1) \
	PREFETCHT0 192(P)(R15*1)

// HR4RED(A0, A1, A2, A3, Y0, X0, Y1, X1) reduces one query's four
// accumulators as RED4 does (into X0's first lane).
#define HR4RED(A0, A1, A2, A3, YA, XA, YB, XB) \
	VADDPS A2, A0, A0 \
	VADDPS A3, A1, A1 \
	VADDPS A1, A0, A0 \
	SUM16(A0, YA, XA, YB, XB)

// HR4FMA(Q, A0, A1, A2, A3) adds the products of the converted key block
// Z16–Z19 with query Q's block at AX to its four accumulators.
#define HR4FMA(Q, A0, A1, A2, A3) \
	VFMADD231PS (Q)(AX*4), Z16, A0 \
	VFMADD231PS 64(Q)(AX*4), Z17, A1 \
	VFMADD231PS 128(Q)(AX*4), Z18, A2 \
	VFMADD231PS 192(Q)(AX*4), Z19, A3

// HROWS(LD, S, O1, O2, O3, PF, SPF) is the body of the one-query row
// kernels, PF(SI) prefetching at each row and SPF at each step: for
// each of BX rows at SI (DX bytes apart), the dot of the row, loaded as
// float32 sixty-four values at a time by LD (elements of S bytes, the three
// other vectors at byte offsets O1–O3), with the query at DI, in four
// 16-lane FMA accumulators reduced by RED4 (dotF32AVX512's and
// dotF16F16AVX512's order), stored to R8 and on; CX values per row, a
// positive multiple of 64.
#define HROWS(LD, S, O1, O2, O3, PF, SPF) \
	KEYPF_DIST \
	TESTQ BX, BX \
	JZ    hrdone \
hrrow: \
	PF(SI) \
	XORQ   AX, AX \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z3, Z3, Z3 \
hrloop: \
	SPF \
	LD          (SI)(AX*S), Z4 \
	LD          O1(SI)(AX*S), Z5 \
	LD          O2(SI)(AX*S), Z6 \
	LD          O3(SI)(AX*S), Z7 \
	VFMADD231PS (DI)(AX*4), Z4, Z0 \
	VFMADD231PS 64(DI)(AX*4), Z5, Z1 \
	VFMADD231PS 128(DI)(AX*4), Z6, Z2 \
	VFMADD231PS 192(DI)(AX*4), Z7, Z3 \
	ADDQ        $64, AX \
	CMPQ        AX, CX \
	JLT         hrloop \
	RED4(0) \
	VMOVSS      X0, (R8) \
	ADDQ        $4, R8 \
	ADDQ        DX, SI \
	DECQ        BX \
	JNZ         hrrow \
hrdone: \
	VZEROUPPER \
	RET

// func dotF16RowsAVX512(n int, q *float32, k *uint16, stride int, rows int, out *float32)
// sets out[r] = dotF16F16AVX512(n, q rounded to F16, row r of k) for r < rows,
// the rows stride bytes apart, n a positive multiple of 64: q is given
// already converted to float32 (exact), so each row costs only its own
// conversions; the products, accumulators and reduction are those of
// dotF16F16AVX512 (products commute), with no tail.
TEXT ·dotF16RowsAVX512(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ q+8(FP), DI
	MOVQ k+16(FP), SI
	MOVQ stride+24(FP), DX
	MOVQ rows+32(FP), BX
	MOVQ out+40(FP), R8
	HROWS(VCVTPH2PS, 2, 32, 64, 96, KEYPF, NOSPF)

// func dotF32RowsAVX512(n int, q *float32, k *float32, stride int, rows int, out *float32)
// is dotF16RowsAVX512 for float32 rows: out[r] = dotF32AVX512(n, row r, q),
// bit for bit (n a positive multiple of 64, so there is no tail).
TEXT ·dotF32RowsAVX512(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ q+8(FP), DI
	MOVQ k+16(FP), SI
	MOVQ stride+24(FP), DX
	MOVQ rows+32(FP), BX
	MOVQ out+40(FP), R8
	HROWS(VMOVUPS, 4, 64, 128, 192, NOPF, WSPF)

// HROWS4(LD, S, O1, O2, O3, PF, SPF) is HROWS for the four queries at DI, R11, R12
// and R13: each row is loaded once for the four, and query j's dot goes
// to R8 plus 0, R9, R10 or R14 bytes.
#define HROWS4(LD, S, O1, O2, O3, PF, SPF) \
	KEYPF_DIST \
	TESTQ BX, BX \
	JZ    hr4done \
hr4row: \
	PF(SI) \
	XORQ   AX, AX \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z3, Z3, Z3 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7 \
	ZERO_Z8_Z15 \
hr4loop: \
	SPF \
	LD        (SI)(AX*S), Z16 \
	LD        O1(SI)(AX*S), Z17 \
	LD        O2(SI)(AX*S), Z18 \
	LD        O3(SI)(AX*S), Z19 \
	HR4FMA(DI, Z0, Z1, Z2, Z3) \
	HR4FMA(R11, Z4, Z5, Z6, Z7) \
	HR4FMA(R12, Z8, Z9, Z10, Z11) \
	HR4FMA(R13, Z12, Z13, Z14, Z15) \
	ADDQ      $64, AX \
	CMPQ      AX, CX \
	JLT       hr4loop \
	HR4RED(Z0, Z1, Z2, Z3, Y0, X0, Y1, X1) \
	VMOVSS    X0, (R8) \
	HR4RED(Z4, Z5, Z6, Z7, Y4, X4, Y5, X5) \
	VMOVSS    X4, (R8)(R9*1) \
	HR4RED(Z8, Z9, Z10, Z11, Y8, X8, Y9, X9) \
	VMOVSS    X8, (R8)(R10*1) \
	HR4RED(Z12, Z13, Z14, Z15, Y12, X12, Y13, X13) \
	VMOVSS    X12, (R8)(R14*1) \
	ADDQ      $4, R8 \
	ADDQ      DX, SI \
	DECQ      BX \
	JNZ       hr4row \
hr4done: \
	VZEROUPPER \
	RET

// func dotF16Rows4AVX512(n int, q *float32, k *uint16, stride int, rows int, out *float32, o1, o2, o3 int)
// is dotF16RowsAVX512 for four queries at once (q holds them one after the
// other, n float32 each): each key row is converted once for the four, and
// query j's dot with row r goes to out + oj + 4r bytes (o0 = 0).
TEXT ·dotF16Rows4AVX512(SB), NOSPLIT, $0-72
	HROWS4_ARGS
	HROWS4(VCVTPH2PS, 2, 32, 64, 96, KEYPF, NOSPF)

// func dotF32Rows4AVX512(n int, q *float32, k *float32, stride int, rows int, out *float32, o1, o2, o3 int)
// is dotF16Rows4AVX512 for float32 rows (each dot dotF32AVX512's).
TEXT ·dotF32Rows4AVX512(SB), NOSPLIT, $0-72
	HROWS4_ARGS
	HROWS4(VMOVUPS, 4, 64, 128, 192, NOPF, WSPF)

//go:build amd64 && !purego

#include "textflag.h"
#include "reduce_amd64.h"
#include "gemm6_amd64.h"

// Panel GEMM kernels for batches of activation rows (prompt processing) on
// CPUs with AVX-512 VNNI. The weights are repacked per panel by
// gemm_amd64.go; each output keeps exactly the arithmetic of the vec-dot
// twin in dot.go (same integer sums, same float multiplies and fused
// multiply-adds in the same block order), so results are bit-identical.

// Q40_COL(c, ACC): one Q4_0 block of activation column c (record c*40 of DI:
// 32 int8 values, then -8·Σy as int32, then the f32 scale) against the 16
// packed rows Z0..Z7 (four nibble values per row per register, unsigned)
// with row scales Z8: ACC = fma(float(Σ(q-8)·y), dr·dc, ACC) per row lane.
#define Q40_COL(c, ACC) \
	VPBROADCASTD       (c*40+32)(DI), Z9 \
	VPDPBUSD.BCST      (c*40+0)(DI), Z0, Z9 \
	VPDPBUSD.BCST      (c*40+4)(DI), Z1, Z9 \
	VPDPBUSD.BCST      (c*40+8)(DI), Z2, Z9 \
	VPDPBUSD.BCST      (c*40+12)(DI), Z3, Z9 \
	VPDPBUSD.BCST      (c*40+16)(DI), Z4, Z9 \
	VPDPBUSD.BCST      (c*40+20)(DI), Z5, Z9 \
	VPDPBUSD.BCST      (c*40+24)(DI), Z6, Z9 \
	VPDPBUSD.BCST      (c*40+28)(DI), Z7, Z9 \
	VCVTDQ2PS          Z9, Z9 \
	VMULPS.BCST        (c*40+36)(DI), Z8, Z10 \
	VFMADD231PS        Z10, Z9, ACC

// func gemmQ4_0VNNI(nb int, w, x *byte, out *[128]float32)
// computes 16 weight rows (a packed panel, 576 bytes per block) against 8
// activation columns (320 bytes per block); out[c*16+r] is row r · column c.
TEXT ·gemmQ4_0VNNI(SB), NOSPLIT, $0-32
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	ZERO_Z16_Z23

q40gemmloop:
	VMOVDQU32 0(SI), Z0
	VMOVDQU32 64(SI), Z1
	VMOVDQU32 128(SI), Z2
	VMOVDQU32 192(SI), Z3
	VMOVDQU32 256(SI), Z4
	VMOVDQU32 320(SI), Z5
	VMOVDQU32 384(SI), Z6
	VMOVDQU32 448(SI), Z7
	VMOVUPS   512(SI), Z8
	Q40_COL(0, Z16)
	Q40_COL(1, Z17)
	Q40_COL(2, Z18)
	Q40_COL(3, Z19)
	Q40_COL(4, Z20)
	Q40_COL(5, Z21)
	Q40_COL(6, Z22)
	Q40_COL(7, Z23)
	ADDQ      $576, SI
	ADDQ      $320, DI
	DECQ      CX
	JNZ       q40gemmloop

	MOVQ    out+24(FP), AX
	VMOVUPS Z16, 0(AX)
	VMOVUPS Z17, 64(AX)
	VMOVUPS Z18, 128(AX)
	VMOVUPS Z19, 192(AX)
	VMOVUPS Z20, 256(AX)
	VMOVUPS Z21, 320(AX)
	VMOVUPS Z22, 384(AX)
	VMOVUPS Z23, 448(AX)
	VZEROUPPER
	RET

// Q80_PAIR(W, S, ACC): one block of a pair of weight rows (W: 32 bytes
// w+128 of each row, S: their scales, eight copies each) against the
// activation block in Z8 (its 32 int8 values in both halves), Z9 (-128·Σ of
// each group of four values) and Z10 (its scale): ACC lane l of each half
// = fma(dr·dc, float(Σ w·y over group l), ACC).
#define Q80_PAIR(W, S, ACC) \
	VMOVDQA64   Z9, Z11 \
	VPDPBUSD    Z8, W, Z11 \
	VCVTDQ2PS   Z11, Z11 \
	VMULPS      Z10, S, Z12 \
	VFMADD231PS Z12, Z11, ACC

// Q80_COL(c, A0, A1, A2, A3): activation column c (record c*68 of DI: 32
// int8 values, eight int32 corrections, the f32 scale) against the four row
// pairs of the panel.
#define Q80_COL(c, A0, A1, A2, A3) \
	VBROADCASTI64X4 (c*68)(DI), Z8 \
	VBROADCASTI64X4 (c*68+32)(DI), Z9 \
	VBROADCASTSS    (c*68+64)(DI), Z10 \
	Q80_PAIR(Z0, Z4, A0) \
	Q80_PAIR(Z1, Z5, A1) \
	Q80_PAIR(Z2, Z6, A2) \
	Q80_PAIR(Z3, Z7, A3)

// func gemmQ8_0VNNI(nb int, w, x *byte, out *[256]float32)
// computes 8 weight rows (a packed panel, 512 bytes per block) against 4
// activation columns (272 bytes per block). out[(c*4+p)*16 + l] is lane l
// of the eight-lane accumulator of row 2p (l < 8) or row 2p+1 (l ≥ 8) with
// column c; the caller reduces each with Sum8.
TEXT ·gemmQ8_0VNNI(SB), NOSPLIT, $0-32
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	ZERO_Z16_Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31

q80gemmloop:
	VMOVDQU32 0(SI), Z0
	VMOVDQU32 64(SI), Z1
	VMOVDQU32 128(SI), Z2
	VMOVDQU32 192(SI), Z3
	VMOVUPS   256(SI), Z4
	VMOVUPS   320(SI), Z5
	VMOVUPS   384(SI), Z6
	VMOVUPS   448(SI), Z7
	Q80_COL(0, Z16, Z17, Z18, Z19)
	Q80_COL(1, Z20, Z21, Z22, Z23)
	Q80_COL(2, Z24, Z25, Z26, Z27)
	Q80_COL(3, Z28, Z29, Z30, Z31)
	ADDQ      $512, SI
	ADDQ      $272, DI
	DECQ      CX
	JNZ       q80gemmloop

	MOVQ    out+24(FP), AX
	VMOVUPS Z16, 0(AX)
	VMOVUPS Z17, 64(AX)
	VMOVUPS Z18, 128(AX)
	VMOVUPS Z19, 192(AX)
	VMOVUPS Z20, 256(AX)
	VMOVUPS Z21, 320(AX)
	VMOVUPS Z22, 384(AX)
	VMOVUPS Z23, 448(AX)
	VMOVUPS Z24, 512(AX)
	VMOVUPS Z25, 576(AX)
	VMOVUPS Z26, 640(AX)
	VMOVUPS Z27, 704(AX)
	VMOVUPS Z28, 768(AX)
	VMOVUPS Z29, 832(AX)
	VMOVUPS Z30, 896(AX)
	VMOVUPS Z31, 960(AX)
	VZEROUPPER
	RET

// How far ahead the one-row kernels prefetch each of their eight rows:
// they walk eight streams at once, which the hardware prefetcher follows
// less well than one.
#define PFQ40 1152
#define PFQ80 2176

// Row-pair kernels for one activation row (token generation) on AVX-512
// VNNI. They read the weights where they lie (no repacking) and compute
// eight rows per iteration, bit-identical to the vec-dot twins.

// Q80_GEMV_PAIR(A, B, ACC): the Q8_0 blocks at A and B (two rows) against
// the activation block in Z8 (values in both halves), Z9 (corrections) and
// its scale at 64(DI): ACC gets the twin's eight FMA lanes of each row.
#define Q80_GEMV_PAIR(A, B, ACC) \
	VMOVDQU         2(A), Y1 \
	VINSERTI64X4    $1, 2(B), Z1, Z1 \
	VPXORD          Z15, Z1, Z1 \
	VMOVDQA64       Z9, Z2 \
	VPDPBUSD        Z8, Z1, Z2 \
	VCVTDQ2PS       Z2, Z2 \
	VPBROADCASTW    (A), X3 \
	VPBROADCASTW    (B), X4 \
	VINSERTI128     $1, X4, Y3, Y3 \
	VCVTPH2PS       Y3, Z3 \
	VMULPS.BCST     64(DI), Z3, Z3 \
	VFMADD231PS     Z3, Z2, ACC

// SUM8X2(Z, T) reduces each 256-bit half of Z as Sum8 does, into lanes 0
// and 8.
#define SUM8X2(Z, T) \
	VSHUFF64X2 $0xB1, Z, Z, T \
	VADDPS     T, Z, Z \
	VPERMILPS  $0x4E, Z, T \
	VADDPS     T, Z, Z \
	VMOVSHDUP  Z, T \
	VADDPS     T, Z, Z

// STORE2(Z, X, T, off) stores lanes 0 and 8 of Z at off(BX) and off+4(BX).
#define STORE2(Z, X, TX, off) \
	VMOVSS        X, off(BX) \
	VEXTRACTF32X4 $2, Z, TX \
	VMOVSS        TX, (off+4)(BX)

// func gemvQ8_0VNNI(nb int, w *byte, rb, rows int, x *byte, dst *float32)
// computes dst[r] = row r · x for rows 0..rows-1 (a multiple of 8) of the
// Q8_0 matrix at w; x holds 68-byte records per block (packActQ8_0).
TEXT ·gemvQ8_0VNNI(SB), NOSPLIT, $0-48
	MOVQ         w+8(FP), SI
	MOVQ         rb+16(FP), DX
	MOVQ         rows+24(FP), R15
	MOVQ         dst+40(FP), BX
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Z15
	LEAQ         (DX)(DX*2), R11 // 3rb
	LEAQ         (DX)(DX*4), R12 // 5rb
	LEAQ         (R11)(R11*1), R13 // 6rb
	LEAQ         (R12)(DX*2), R14 // 7rb

q80gemvrows:
	MOVQ   nb+0(FP), CX
	MOVQ   x+32(FP), DI
	MOVQ   SI, R8
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19

q80gemvloop:
	VBROADCASTI64X4 (DI), Z8
	VBROADCASTI64X4 32(DI), Z9
	PREFETCHT0      PFQ80(R8)
	PREFETCHT0      PFQ80(R8)(DX*1)
	PREFETCHT0      PFQ80(R8)(DX*2)
	PREFETCHT0      PFQ80(R8)(R11*1)
	PREFETCHT0      PFQ80(R8)(DX*4)
	PREFETCHT0      PFQ80(R8)(R12*1)
	PREFETCHT0      PFQ80(R8)(R13*1)
	PREFETCHT0      PFQ80(R8)(R14*1)
	LEAQ            (R8)(DX*1), R9
	Q80_GEMV_PAIR(R8, R9, Z16)
	LEAQ            (R8)(DX*2), R9
	LEAQ            (R8)(R11*1), R10
	Q80_GEMV_PAIR(R9, R10, Z17)
	LEAQ            (R8)(DX*4), R9
	LEAQ            (R8)(R12*1), R10
	Q80_GEMV_PAIR(R9, R10, Z18)
	LEAQ            (R8)(R13*1), R9
	LEAQ            (R8)(R14*1), R10
	Q80_GEMV_PAIR(R9, R10, Z19)
	ADDQ            $34, R8
	ADDQ            $68, DI
	DECQ            CX
	JNZ             q80gemvloop

	SUM8X2(Z16, Z20)
	SUM8X2(Z17, Z20)
	SUM8X2(Z18, Z20)
	SUM8X2(Z19, Z20)
	STORE2(Z16, X16, X20, 0)
	STORE2(Z17, X17, X20, 8)
	STORE2(Z18, X18, X20, 16)
	STORE2(Z19, X19, X20, 24)
	ADDQ    $32, BX
	LEAQ    (SI)(DX*8), SI
	SUBQ    $8, R15
	JNZ     q80gemvrows
	VZEROUPPER
	RET

// Lane order of gemvQ4_0VNNI's per-lane sums back to rows: lane 4k holds
// row k and lane 4k+2 row k+4 (k < 4).
DATA q40gemv4perm<>+0(SB)/4, $0
DATA q40gemv4perm<>+4(SB)/4, $4
DATA q40gemv4perm<>+8(SB)/4, $8
DATA q40gemv4perm<>+12(SB)/4, $12
DATA q40gemv4perm<>+16(SB)/4, $2
DATA q40gemv4perm<>+20(SB)/4, $6
DATA q40gemv4perm<>+24(SB)/4, $10
DATA q40gemv4perm<>+28(SB)/4, $14
GLOBL q40gemv4perm<>(SB), RODATA|NOPTR, $32

// Scale lanes: halves [d0 d1 d2 d3 d4 d5 d6 d7] to lanes [d0 d0 d4 d4 d1 d1 d5 d5 ...].
DATA q40gemv4sc<>+0(SB)/4, $0
DATA q40gemv4sc<>+4(SB)/4, $0
DATA q40gemv4sc<>+8(SB)/4, $4
DATA q40gemv4sc<>+12(SB)/4, $4
DATA q40gemv4sc<>+16(SB)/4, $1
DATA q40gemv4sc<>+20(SB)/4, $1
DATA q40gemv4sc<>+24(SB)/4, $5
DATA q40gemv4sc<>+28(SB)/4, $5
DATA q40gemv4sc<>+32(SB)/4, $2
DATA q40gemv4sc<>+36(SB)/4, $2
DATA q40gemv4sc<>+40(SB)/4, $6
DATA q40gemv4sc<>+44(SB)/4, $6
DATA q40gemv4sc<>+48(SB)/4, $3
DATA q40gemv4sc<>+52(SB)/4, $3
DATA q40gemv4sc<>+56(SB)/4, $7
DATA q40gemv4sc<>+60(SB)/4, $7
GLOBL q40gemv4sc<>(SB), RODATA|NOPTR, $64

// Q40_QUAD(A, B, C, D, T): T's 128-bit lane k = the four int32 partial sums
// of row k (Q4_0 blocks at addresses A, B, C, D) against the activation
// (values 0-15 in Z8, 16-31 in Z10, both in every 128-bit lane; -8·Σy in
// lane 0 of every 128-bit lane of Z9).
#define Q40_QUAD(A, B, C, D, T) \
	VMOVDQU         A, X1 \
	VINSERTI32X4    $1, B, Z1, Z1 \
	VINSERTI32X4    $2, C, Z1, Z1 \
	VINSERTI32X4    $3, D, Z1, Z1 \
	VPSRLW          $4, Z1, Z2 \
	VPANDD          Z15, Z1, Z1 \
	VPANDD          Z15, Z2, Z2 \
	VMOVDQA64       Z9, T \
	VPDPBUSD        Z8, Z1, T \
	VPDPBUSD        Z10, Z2, T

// func gemvQ4_0VNNI(nb int, w *byte, rb, rows int, x *byte, dst *float32)
// computes dst[r] = row r · x for rows 0..rows-1 (a multiple of 8) of the
// Q4_0 matrix at w (rb bytes per row), four rows per register; x holds
// 40-byte records per block (packGemvQ4_0). Each row keeps the twin's single
// FMA chain: its integer block sum, times dr·dc, added by one FMA.
TEXT ·gemvQ4_0VNNI(SB), NOSPLIT, $0-48
	MOVQ         w+8(FP), SI
	MOVQ         rb+16(FP), DX
	MOVQ         rows+24(FP), R15
	MOVQ         dst+40(FP), BX
	MOVL         $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z15
	MOVL         $0x1111, AX
	KMOVW        AX, K2
	LEAQ         (DX)(DX*2), R11 // 3rb
	LEAQ         (DX)(DX*4), R12 // 5rb
	LEAQ         (R11)(R11*1), R13 // 6rb
	LEAQ         (R12)(DX*2), R14 // 7rb
	VMOVDQU      q40gemv4perm<>(SB), Y14
	VMOVDQU32    q40gemv4sc<>(SB), Z13

q40gemvrows:
	MOVQ   nb+0(FP), CX
	MOVQ   x+32(FP), DI
	MOVQ   SI, R8
	VPXORD Z0, Z0, Z0

q40gemvloop:
	VBROADCASTI32X4 (DI), Z8
	VBROADCASTI32X4 16(DI), Z10
	VPBROADCASTD.Z  32(DI), K2, Z9
	PREFETCHT0      PFQ40(R8)
	PREFETCHT0      PFQ40(R8)(DX*1)
	PREFETCHT0      PFQ40(R8)(DX*2)
	PREFETCHT0      PFQ40(R8)(R11*1)
	PREFETCHT0      PFQ40(R8)(DX*4)
	PREFETCHT0      PFQ40(R8)(R12*1)
	PREFETCHT0      PFQ40(R8)(R13*1)
	PREFETCHT0      PFQ40(R8)(R14*1)
	Q40_QUAD(2(R8), 2(R8)(DX*1), 2(R8)(DX*2), 2(R8)(R11*1), Z3)
	Q40_QUAD(2(R8)(DX*4), 2(R8)(R12*1), 2(R8)(R13*1), 2(R8)(R14*1), Z4)
	VPUNPCKLQDQ     Z4, Z3, Z5
	VPUNPCKHQDQ     Z4, Z3, Z6
	VPADDD          Z6, Z5, Z5
	VPSHUFD         $0xB1, Z5, Z6
	VPADDD          Z6, Z5, Z5
	VCVTDQ2PS       Z5, Z5
	MOVWLZX         (R8), AX
	VMOVD           AX, X12
	VPINSRW         $1, (R8)(DX*1), X12, X12
	VPINSRW         $2, (R8)(DX*2), X12, X12
	VPINSRW         $3, (R8)(R11*1), X12, X12
	VPINSRW         $4, (R8)(DX*4), X12, X12
	VPINSRW         $5, (R8)(R12*1), X12, X12
	VPINSRW         $6, (R8)(R13*1), X12, X12
	VPINSRW         $7, (R8)(R14*1), X12, X12
	VCVTPH2PS       X12, Y12
	VPERMPS         Z12, Z13, Z12
	VMULPS.BCST     36(DI), Z12, Z12
	VFMADD231PS     Z12, Z5, Z0
	ADDQ            $18, R8
	ADDQ            $40, DI
	DECQ            CX
	JNZ             q40gemvloop

	VPERMPS Z0, Z14, Z0
	VMOVUPS Y0, (BX)
	ADDQ    $32, BX
	LEAQ    (SI)(DX*8), SI
	SUBQ    $8, R15
	JNZ     q40gemvrows
	VZEROUPPER
	RET

// Register-blocked tinyBLAS-order products for F32 and F16 weights: four
// weight rows by four activation rows, each output one sixteen-lane FMA
// accumulator over k, reduced by SUM16 exactly as gemmF32AVX512 does.

// Each step loads the four weight rows' sixteen values (Z4..Z7) and each
// activation row's once (Z8..Z11): accumulator Z16+4i+j is weight row i by
// activation row j.

// GF_PAIR(SH, IMM1, IMM2, A, B, D) adds the parts of A and B that SH
// (VSHUFF32X4 or VSHUFPS) picks with IMM1 to those it picks with IMM2, into
// D (Z0 and Z1 are clobbered).
#define GF_PAIR(SH, IMM1, IMM2, A, B, D) \
	SH     IMM1, B, A, Z0 \
	SH     IMM2, B, A, Z1 \
	VADDPS Z1, Z0, D

// GF_PROLOGUE expects n in CX, w in SI, ws in DX, x in DI and xs in R11.
#define GF_PROLOGUE \
	ROWS3(DI, R11, R8, R9, R10) \
	ROWS3(SI, DX, R12, R13, R14) \
	XORQ   AX, AX \
	ZERO_Z16_Z23 \
	ZERO_Z24_Z31

// GF_REDUCE reduces the sixteen accumulators at once into the sixteen
// lanes of Z4, lane 4j+i being accumulator Z16+4i+j (weight row i by
// activation row j). Each lane gets the additions of SUM16 in its order
// (halves of eight, of four, lanes two apart, the last two), two, four,
// eight and sixteen accumulators at a time: fifteen additions in all rather
// than sixty-four.
#define GF_REDUCE \
	GF_PAIR(VSHUFF32X4, $0x44, $0xee, Z16, Z17, Z4) \
	GF_PAIR(VSHUFF32X4, $0x44, $0xee, Z18, Z19, Z5) \
	GF_PAIR(VSHUFF32X4, $0x44, $0xee, Z20, Z21, Z6) \
	GF_PAIR(VSHUFF32X4, $0x44, $0xee, Z22, Z23, Z7) \
	GF_PAIR(VSHUFF32X4, $0x44, $0xee, Z24, Z25, Z8) \
	GF_PAIR(VSHUFF32X4, $0x44, $0xee, Z26, Z27, Z9) \
	GF_PAIR(VSHUFF32X4, $0x44, $0xee, Z28, Z29, Z10) \
	GF_PAIR(VSHUFF32X4, $0x44, $0xee, Z30, Z31, Z11) \
	GF_PAIR(VSHUFF32X4, $0x88, $0xdd, Z4, Z5, Z4) \
	GF_PAIR(VSHUFF32X4, $0x88, $0xdd, Z6, Z7, Z6) \
	GF_PAIR(VSHUFF32X4, $0x88, $0xdd, Z8, Z9, Z8) \
	GF_PAIR(VSHUFF32X4, $0x88, $0xdd, Z10, Z11, Z10) \
	GF_PAIR(VSHUFPS, $0x44, $0xee, Z4, Z6, Z4) \
	GF_PAIR(VSHUFPS, $0x44, $0xee, Z8, Z10, Z8) \
	GF_PAIR(VSHUFPS, $0x88, $0xdd, Z4, Z8, Z4)

// GF_EPILOGUE stores the reduced tile at BX (out[4j+i]) and returns.
#define GF_EPILOGUE \
	GF_REDUCE \
	VMOVUPS Z4, (BX) \
	VZEROUPPER \
	RET

// GF_NEXT_ROWS ends one block of a rows kernel: it reduces the tile, stores
// its four sums of activation row j at BX + j·AX bytes (AX: the output row
// stride), moves BX on by four outputs and SI to the next four weight rows
// (after R14, the block's last), and counts R15 down.
#define GF_NEXT_ROWS \
	GF_REDUCE \
	VMOVUPS        X4, (BX) \
	VEXTRACTF32X4  $1, Z4, (BX)(AX*1) \
	VEXTRACTF32X4  $2, Z4, (BX)(AX*2) \
	LEAQ           (BX)(AX*2), R12 \
	VEXTRACTF32X4  $3, Z4, (R12)(AX*1) \
	ADDQ           $16, BX \
	LEAQ           (R14)(DX*1), SI \
	DECQ           R15

// GF_ACT(P, Z, A0, A1, A2, A3) loads sixteen values of the activation row
// at P into Z and adds their products with the four converted weight
// vectors Z4–Z7 to the row's four accumulators.
#define GF_ACT(P, Z, A0, A1, A2, A3) \
	VMOVUPS     (P)(AX*4), Z \
	VFMADD231PS Z, Z4, A0 \
	VFMADD231PS Z, Z5, A1 \
	VFMADD231PS Z, Z6, A2 \
	VFMADD231PS Z, Z7, A3

// GF_LOADW(LD, S) loads sixteen values at AX of the four weight rows SI,
// R12, R13 and R14 as float32 into Z4–Z7 (LD from elements of S bytes).
#define GF_LOADW(LD, S) \
	LD (SI)(AX*S), Z4 \
	LD (R12)(AX*S), Z5 \
	LD (R13)(AX*S), Z6 \
	LD (R14)(AX*S), Z7

// GF_STEP(LD, S) adds the products of sixteen values of the four weight
// rows (GF_LOADW) and the four activation rows (DI, R8, R9, R10) at AX
// into the tile accumulators and advances AX.
#define GF_STEP(LD, S) \
	GF_LOADW(LD, S) \
	GF_ACT(DI, Z8, Z16, Z20, Z24, Z28) \
	GF_ACT(R8, Z9, Z17, Z21, Z25, Z29) \
	GF_ACT(R9, Z10, Z18, Z22, Z26, Z30) \
	GF_ACT(R10, Z11, Z19, Z23, Z27, Z31) \
	ADDQ   $16, AX

// func quantQ8_0AVX512(src *float32, dst *byte, nb int)
// quantizes nb blocks of 32 values to Q8_0 exactly as quantQ8_0ActGo: amax
// ignoring NaN, d = amax/127 stored as F16 (round to nearest even), id =
// 127/amax (0 when amax is 0), values round-half-even(x·id) saturated to
// int8, NaN products giving 0.
TEXT ·quantQ8_0AVX512(SB), NOSPLIT, $0-24
	MOVQ         src+0(FP), SI
	MOVQ         dst+8(FP), DI
	MOVQ         nb+16(FP), CX
	MOVL         $0x7fffffff, AX
	VPBROADCASTD AX, Z15
	MOVL         $0x42fe0000, AX // 127
	VMOVD        AX, X14
	MOVL         $0x4e800000, AX // 2^30
	VPBROADCASTD AX, Z13
	MOVL         $0xce800000, AX // -2^30
	VPBROADCASTD AX, Z12
	TESTQ        CX, CX
	JZ           q80qdone

q80qloop:
	VMOVUPS        (SI), Z0
	VMOVUPS        64(SI), Z1
	VANDPS         Z15, Z0, Z2
	VANDPS         Z15, Z1, Z3
	VCMPPS         $0x07, Z2, Z2, K1 // ordered: not NaN
	VCMPPS         $0x07, Z3, Z3, K2
	VMOVAPS.Z      Z2, K1, Z2
	VMOVAPS.Z      Z3, K2, Z3
	VMAXPS         Z3, Z2, Z2
	VEXTRACTF64X4  $1, Z2, Y3
	VMAXPS         Y3, Y2, Y2
	VEXTRACTF128   $1, Y2, X3
	VMAXPS         X3, X2, X2
	VPERMILPS      $0x4e, X2, X3
	VMAXPS         X3, X2, X2
	VMOVSHDUP      X2, X3
	VMAXSS         X3, X2, X2     // amax
	VDIVSS         X14, X2, X4    // d = amax/127
	VCVTPS2PH      $0, X4, X5
	VPEXTRW        $0, X5, AX
	MOVW           AX, (DI)
	VXORPS         X6, X6, X6
	VUCOMISS       X6, X2
	JE             q80qzero
	VDIVSS         X2, X14, X6    // id = 127/amax

q80qzero:
	VBROADCASTSS   X6, Z6
	VMULPS         Z6, Z0, Z0
	VMULPS         Z6, Z1, Z1
	VCMPPS         $0x07, Z0, Z0, K1
	VCMPPS         $0x07, Z1, Z1, K2
	VMINPS         Z13, Z0, Z0    // keep ±Inf and huge products in int32 range
	VMINPS         Z13, Z1, Z1
	VMAXPS         Z12, Z0, Z0
	VMAXPS         Z12, Z1, Z1
	VCVTPS2DQ.Z    Z0, K1, Z0
	VCVTPS2DQ.Z    Z1, K2, Z1
	VPMOVSDB       Z0, X0
	VPMOVSDB       Z1, X1
	VMOVDQU        X0, 2(DI)
	VMOVDQU        X1, 18(DI)
	ADDQ           $128, SI
	ADDQ           $34, DI
	DECQ           CX
	JNZ            q80qloop

q80qdone:
	VZEROUPPER
	RET

// GF_LOAD16 loads the sixteen tile accumulators Z16..Z31 from the 1 KiB at
// BX; GF_SAVE16 stores them there.
#define GF_LOAD16 \
	VMOVUPS 0(BX), Z16 \
	VMOVUPS 64(BX), Z17 \
	VMOVUPS 128(BX), Z18 \
	VMOVUPS 192(BX), Z19 \
	VMOVUPS 256(BX), Z20 \
	VMOVUPS 320(BX), Z21 \
	VMOVUPS 384(BX), Z22 \
	VMOVUPS 448(BX), Z23 \
	VMOVUPS 512(BX), Z24 \
	VMOVUPS 576(BX), Z25 \
	VMOVUPS 640(BX), Z26 \
	VMOVUPS 704(BX), Z27 \
	VMOVUPS 768(BX), Z28 \
	VMOVUPS 832(BX), Z29 \
	VMOVUPS 896(BX), Z30 \
	VMOVUPS 960(BX), Z31

#define GF_SAVE16 \
	VMOVUPS Z16, 0(BX) \
	VMOVUPS Z17, 64(BX) \
	VMOVUPS Z18, 128(BX) \
	VMOVUPS Z19, 192(BX) \
	VMOVUPS Z20, 256(BX) \
	VMOVUPS Z21, 320(BX) \
	VMOVUPS Z22, 384(BX) \
	VMOVUPS Z23, 448(BX) \
	VMOVUPS Z24, 512(BX) \
	VMOVUPS Z25, 576(BX) \
	VMOVUPS Z26, 640(BX) \
	VMOVUPS Z27, 704(BX) \
	VMOVUPS Z28, 768(BX) \
	VMOVUPS Z29, 832(BX) \
	VMOVUPS Z30, 896(BX) \
	VMOVUPS Z31, 960(BX)

// func gemmF16TileAcc(n int, w *uint16, ws int, x *float32, xs int, acc *[16][16]float32, out *[16]float32, flags int)
// is one block of gemmF16TileRows over one piece of k: with flags&1 the
// sixteen-lane accumulators start from acc (else from zero); with flags&2
// they are reduced into out as gemmF16TileRows reduces them (activation row
// j's sums at out[4j:4j+4]; else stored back into acc).
// Accumulator 4i+j is weight row i by activation row j, so a product
// computed in pieces of k (each a multiple of 16) is bit for bit the
// product in one piece.
TEXT ·gemmF16TileAcc(SB), NOSPLIT, $0-64
	MOVQ  n+0(FP), CX
	MOVQ  w+8(FP), SI
	MOVQ  ws+16(FP), DX
	MOVQ  x+24(FP), DI
	MOVQ  xs+32(FP), R11
	GF_PROLOGUE
	MOVQ  acc+40(FP), BX
	MOVQ  flags+56(FP), R15
	TESTQ $1, R15
	JZ    gf16aloop
	GF_LOAD16

gf16aloop:
	GF_STEP(VCVTPH2PS, 2)
	CMPQ        AX, CX
	JLT         gf16aloop
	TESTQ       $2, R15
	JNZ         gf16aout
	GF_SAVE16
	VZEROUPPER
	RET

gf16aout:
	MOVQ out+48(FP), BX
	GF_EPILOGUE

// func gemmF32TileRows(n int, w *float32, ws int, x *float32, xs int, out *float32, os int, groups int)
// computes groups blocks of four weight rows by four activation rows (x + j·xs
// bytes), n a multiple of 16: block g takes the rows from w + 4g·ws bytes
// on, and stores at out + j·os + 16g + 4i bytes the tinyBLAS dot of its
// weight row i and activation row j.
TEXT ·gemmF32TileRows(SB), NOSPLIT, $0-64
	MOVQ n+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ ws+16(FP), DX
	MOVQ x+24(FP), DI
	MOVQ xs+32(FP), R11
	MOVQ out+40(FP), BX
	MOVQ groups+56(FP), R15

gf32rgroup:
	GF_PROLOGUE

gf32rloop:
	GF_STEP(VMOVUPS, 4)
	CMPQ AX, CX
	JLT  gf32rloop
	MOVQ os+48(FP), AX
	GF_NEXT_ROWS
	JNZ  gf32rgroup
	VZEROUPPER
	RET

// func gemmF16TileRows(n int, w *uint16, ws int, x *float32, xs int, out *float32, os int, groups int)
// is gemmF32TileRows for F16 weights (converted exactly to float32).
TEXT ·gemmF16TileRows(SB), NOSPLIT, $0-64
	MOVQ n+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ ws+16(FP), DX
	MOVQ x+24(FP), DI
	MOVQ xs+32(FP), R11
	MOVQ out+40(FP), BX
	MOVQ groups+56(FP), R15

gf16rgroup:
	GF_PROLOGUE

gf16rloop:
	GF_STEP(VCVTPH2PS, 2)
	CMPQ AX, CX
	JLT  gf16rloop
	MOVQ os+48(FP), AX
	GF_NEXT_ROWS
	JNZ  gf16rgroup
	VZEROUPPER
	RET

// func gemmF32TileRows6(n int, w *float32, ws int, x *float32, xs int, out *float32, os int, groups int)
// is gemmF32TileRows over six activation rows (x + j·xs bytes, j < 6): each
// output the same tinyBLAS dot.
TEXT ·gemmF32TileRows6(SB), NOSPLIT, $512-64
	GF6_ROWS(VMOVUPS, 4)

// func gemmF16TileRows6(n int, w *uint16, ws int, x *float32, xs int, out *float32, os int, groups int)
// is gemmF32TileRows6 for F16 weights (converted exactly to float32).
TEXT ·gemmF16TileRows6(SB), NOSPLIT, $512-64
	GF6_ROWS(VCVTPH2PS, 2)

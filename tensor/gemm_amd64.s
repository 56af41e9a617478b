//go:build amd64 && !purego

#include "textflag.h"

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
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

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
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
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

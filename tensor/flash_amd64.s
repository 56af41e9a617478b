//go:build amd64 && !purego

#include "textflag.h"

// The flash-attention accumulator kernels (flash.go) with AVX2, FMA and
// F16C, eight elements at a time. Each element gets the operations of its
// pure-Go twin (a widening, one fused multiply-add or multiply, a rounding to
// F16 with ties to even), so the results are the same bit for bit.

// func madF16AVX2(y, x *uint16, v float32, n int)
// y[i] = f16(fma(f32(x[i]), v, f32(y[i]))) for i < n, n a positive multiple of 8.
TEXT ·madF16AVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSS v+16(FP), Y2
	MOVQ n+24(FP), CX
madf16loop:
	VCVTPH2PS (SI), Y0
	VCVTPH2PS (DI), Y1
	VFMADD231PS Y2, Y0, Y1
	VCVTPS2PH $0, Y1, (DI)
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $8, CX
	JNZ madf16loop
	VZEROUPPER
	RET

// func scaleF16AVX2(y *uint16, v float32, n int)
// y[i] = f16(f32(y[i])·v) for i < n, n a positive multiple of 8.
TEXT ·scaleF16AVX2(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	VBROADCASTSS v+8(FP), Y2
	MOVQ n+16(FP), CX
scalef16loop:
	VCVTPH2PS (DI), Y1
	VMULPS Y2, Y1, Y1
	VCVTPS2PH $0, Y1, (DI)
	ADDQ $16, DI
	SUBQ $8, CX
	JNZ scalef16loop
	VZEROUPPER
	RET

// func madF32AVX2(y, x *float32, v float32, n int)
// y[i] = fma(x[i], v, y[i]) for i < n, n a positive multiple of 8.
TEXT ·madF32AVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSS v+16(FP), Y2
	MOVQ n+24(FP), CX
madf32loop:
	VMOVUPS (SI), Y0
	VMOVUPS (DI), Y1
	VFMADD231PS Y2, Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ madf32loop
	VZEROUPPER
	RET

// func madQ8_0AVX2(y *float32, w *byte, v float32, nb int)
// For nb Q8_0 blocks of w (34 bytes: an F16 scale d, 32 int8 quants):
// y[i] = fma(float32(q[i])·d, v, y[i]), the product q·d rounded first (the
// reference dequantization), nb ≥ 1.
TEXT ·madQ8_0AVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ w+8(FP), SI
	VBROADCASTSS v+16(FP), Y2
	MOVQ nb+24(FP), CX
madq8loop:
	MOVWLZX (SI), AX
	VMOVD AX, X4
	VCVTPH2PS X4, X4
	VBROADCASTSS X4, Y4
	VPMOVSXBD 2(SI), Y0
	VCVTDQ2PS Y0, Y0
	VMULPS Y4, Y0, Y0
	VMOVUPS (DI), Y1
	VFMADD231PS Y2, Y0, Y1
	VMOVUPS Y1, (DI)
	VPMOVSXBD 10(SI), Y0
	VCVTDQ2PS Y0, Y0
	VMULPS Y4, Y0, Y0
	VMOVUPS 32(DI), Y1
	VFMADD231PS Y2, Y0, Y1
	VMOVUPS Y1, 32(DI)
	VPMOVSXBD 18(SI), Y0
	VCVTDQ2PS Y0, Y0
	VMULPS Y4, Y0, Y0
	VMOVUPS 64(DI), Y1
	VFMADD231PS Y2, Y0, Y1
	VMOVUPS Y1, 64(DI)
	VPMOVSXBD 26(SI), Y0
	VCVTDQ2PS Y0, Y0
	VMULPS Y4, Y0, Y0
	VMOVUPS 96(DI), Y1
	VFMADD231PS Y2, Y0, Y1
	VMOVUPS Y1, 96(DI)
	ADDQ $34, SI
	ADDQ $128, DI
	DECQ CX
	JNZ madq8loop
	VZEROUPPER
	RET

// func tileScoresAVX2(acc *float32, kt *float32, q *float32, hd, stride int)
// For the 64 lanes of acc (zeroed first): acc[j] = fma(kt[d·stride+j], q[d],
// acc[j]) for d = 0 … hd−1 in order (stride in floats), hd ≥ 1.
TEXT ·tileScoresAVX2(SB), NOSPLIT, $0-40
	MOVQ acc+0(FP), DI
	MOVQ kt+8(FP), SI
	MOVQ q+16(FP), DX
	MOVQ hd+24(FP), CX
	MOVQ stride+32(FP), BX
	SHLQ $2, BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
tileloop:
	VBROADCASTSS (DX), Y8
	VFMADD231PS (SI), Y8, Y0
	VFMADD231PS 32(SI), Y8, Y1
	VFMADD231PS 64(SI), Y8, Y2
	VFMADD231PS 96(SI), Y8, Y3
	VFMADD231PS 128(SI), Y8, Y4
	VFMADD231PS 160(SI), Y8, Y5
	VFMADD231PS 192(SI), Y8, Y6
	VFMADD231PS 224(SI), Y8, Y7
	ADDQ BX, SI
	ADDQ $4, DX
	DECQ CX
	JNZ tileloop
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	VZEROUPPER
	RET

// func madF16F32AVX2(y *float32, x *uint16, v float32, n int)
// y[i] = fma(f32(x[i]), v, y[i]) for i < n, n a positive multiple of 8.
TEXT ·madF16F32AVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSS v+16(FP), Y2
	MOVQ n+24(FP), CX
madf16f32loop:
	VCVTPH2PS (SI), Y0
	VMOVUPS (DI), Y1
	VFMADD231PS Y2, Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ madf16f32loop
	VZEROUPPER
	RET

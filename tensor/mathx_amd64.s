//go:build amd64 && !purego

#include "textflag.h"

// Sixteen-lane versions of expf, siluMul and softmax's exponentials (see
// mathx.go), bit-identical to the scalar code: same fused multiply-adds,
// VSCALEFPS for the single-rounding j·2^n, same saturation.

// Constant table (expConsts): 0 shift, 4 log2e, 8 ln2hi, 12 ln2lo, 16 c0,
// 20 c1, 24 c2, 28 c3, 32 c4, 36 limit, 40 -limit, 44 one, 48 +Inf.
#define LOADCONSTS(T) \
	VBROADCASTSS 0(T), Z16 \
	VBROADCASTSS 4(T), Z17 \
	VBROADCASTSS 8(T), Z18 \
	VBROADCASTSS 12(T), Z19 \
	VBROADCASTSS 16(T), Z20 \
	VBROADCASTSS 20(T), Z21 \
	VBROADCASTSS 24(T), Z22 \
	VBROADCASTSS 28(T), Z23 \
	VBROADCASTSS 32(T), Z24 \
	VBROADCASTSS 36(T), Z25 \
	VBROADCASTSS 40(T), Z26 \
	VBROADCASTSS 44(T), Z27 \
	VBROADCASTSS 48(T), Z28 \
	VPXORD       Z29, Z29, Z29

// EXPF(X, E): E = expf(X) lane by lane; Z1..Z5 are clobbered.
#define EXPF(X, E) \
	VMOVAPS      X, Z1 \
	VFMADD213PS  Z16, Z17, Z1 \
	VSUBPS       Z16, Z1, Z1 \
	VMOVAPS      X, Z2 \
	VFNMADD231PS Z18, Z1, Z2 \
	VFNMADD231PS Z19, Z1, Z2 \
	VMULPS       Z2, Z2, Z3 \
	VMOVAPS      Z24, Z4 \
	VFMADD213PS  Z23, Z2, Z4 \
	VMOVAPS      Z22, Z5 \
	VFMADD213PS  Z21, Z2, Z5 \
	VFMADD213PS  Z5, Z3, Z4 \
	VMOVAPS      Z20, Z5 \
	VFMADD213PS  Z27, Z2, Z5 \
	VFMADD213PS  Z5, Z3, Z4 \
	VSCALEFPS    Z1, Z4, E \
	VCMPPS       $0x1e, Z25, Z1, K1 \
	VCMPPS       $0x11, Z26, Z1, K2 \
	VMOVAPS      Z28, K1, E \
	VMOVAPS      Z29, K2, E

// func siluMulAVX512(x, up *float32, n int, c *float32)
// sets x[i] = x[i]/(1+expf(-x[i]))·up[i] for i < n, a multiple of 16.
TEXT ·siluMulAVX512(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), DI
	MOVQ up+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ c+24(FP), AX
	LOADCONSTS(AX)
	SHRQ $4, CX
	JZ   silunone

siluloop:
	VMOVUPS (DI), Z0
	VXORPS  Z6, Z6, Z6
	VSUBPS  Z0, Z6, Z6 // -x
	EXPF(Z6, Z7)
	VADDPS  Z27, Z7, Z7 // 1 + e
	VDIVPS  Z7, Z0, Z0  // x / (1+e)
	VMULPS  (SI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	DECQ    CX
	JNZ     siluloop

silunone:
	VZEROUPPER
	RET

// func expSubAVX512(x *float32, n int, m float32, c *float32)
// sets x[i] = expf(x[i] - m) for i < n, a multiple of 16.
TEXT ·expSubAVX512(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Z8
	MOVQ         c+24(FP), AX
	LOADCONSTS(AX)
	SHRQ         $4, CX
	JZ           expnone

exploop:
	VMOVUPS (DI), Z0
	VSUBPS  Z8, Z0, Z0
	EXPF(Z0, Z7)
	VMOVUPS Z7, (DI)
	ADDQ    $64, DI
	DECQ    CX
	JNZ     exploop

expnone:
	VZEROUPPER
	RET

// func max16AVX512(x *float32, n int, m float32) float32
// returns m raised to each x[i] (i < n, a multiple of 16) with x[i] > m,
// lane by lane (VMAXPS keeps its second operand unless the first is
// greater, so a NaN element never wins and a NaN m stays), then over the
// lanes by the same rule.
TEXT ·max16AVX512(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Z0
	SHRQ         $4, CX
	JZ           maxdone

maxloop:
	VMOVUPS (SI), Z1
	VMAXPS  Z0, Z1, Z0
	ADDQ    $64, SI
	DECQ    CX
	JNZ     maxloop

maxdone:
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS        Y0, Y1, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X0, X1, X0
	VMOVHLPS      X0, X0, X1
	VMAXPS        X0, X1, X0
	VMOVSHDUP     X0, X1
	VMAXSS        X0, X1, X0
	VMOVSS        X0, ret+24(FP)
	VZEROUPPER
	RET

// func scale16AVX512(x *float32, n int, s float32)
// multiplies x[i] by s for i < n, a multiple of 16.
TEXT ·scale16AVX512(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS s+16(FP), Z1
	SHRQ         $4, CX
	JZ           scaledone

scaleloop:
	VMULPS  (SI), Z1, Z0
	VMOVUPS Z0, (SI)
	ADDQ    $64, SI
	DECQ    CX
	JNZ     scaleloop

scaledone:
	VZEROUPPER
	RET

//go:build amd64 && !purego

#include "textflag.h"

// func dot8AVX2(a, b *float32, n int) float32
// n is a positive multiple of 8. Element i goes to lane i%8; the lanes are
// added as ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)), like dotF32. Multiply then
// add (no FMA), so the result is the pure-Go one bit for bit.
TEXT ·dot8AVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
loop:
	VMOVUPS (SI), Y1
	VMULPS (DI), Y1, Y1
	VADDPS Y1, Y0, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ loop
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0        // (l0+l4, l1+l5, l2+l6, l3+l7)
	VMOVHLPS X0, X0, X1      // (l2+l6, l3+l7, …)
	VADDPS X1, X0, X0        // ((l0+l4)+(l2+l6), (l1+l5)+(l3+l7), …)
	VMOVSHDUP X0, X1         // lane 1 into lane 0
	VADDSS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func axpy8AVX2(y, x *float32, s float32, n int)
// y[i] += s·x[i] for i < n, n a positive multiple of 8; multiply then add.
TEXT ·axpy8AVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSS s+16(FP), Y2
	MOVQ n+24(FP), CX
loop:
	VMULPS (SI), Y2, Y1
	VADDPS (DI), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ loop
	VZEROUPPER
	RET

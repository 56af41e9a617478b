//go:build amd64 && !purego

#include "textflag.h"

// AVX2 kernels of the 4-bit codebook formats; see dot_iq_amd64.go. Go
// assembler operand order: sources first, destination last.

// IQ4_INT computes the exact integer dot product of one block's 32 codes
// (16 bytes at q) looked up in the table Y15 with the 32 int8 activations at
// xq, into the low dword of X1. Y14 holds 0x0f bytes, Y13 int16 ones.
#define IQ4_INT(q, xq) \
	VMOVDQU      q, X1 \
	VPSRLW       $4, X1, X2 \
	VINSERTI128  $1, X2, Y1, Y1 \
	VPAND        Y14, Y1, Y1 \
	VPSHUFB      Y1, Y15, Y1 \ // weights as int8: low nibbles then high
	VMOVDQU      xq, Y2 \
	VPSIGNB      Y1, Y2, Y2 \  // x·sign(w)
	VPABSB       Y1, Y1 \
	VPMADDUBSW   Y2, Y1, Y1 \  // |w|·x·sign(w) in int16 pairs (no saturation: |w| ≤ 127, |x| ≤ 127)
	VPMADDWD     Y13, Y1, Y1 \
	VEXTRACTI128 $1, Y1, X2 \
	VPADDD       X2, X1, X1 \
	VPSHUFD      $0x4e, X1, X2 \
	VPADDD       X2, X1, X1 \
	VPSHUFD      $0xb1, X1, X2 \
	VPADDD       X2, X1, X1

#define IQ4_SETUP \
	MOVL         $0x0f0f0f0f, AX \
	VMOVD        AX, X14 \
	VPBROADCASTD X14, Y14 \
	MOVL         $0x00010001, AX \
	VMOVD        AX, X13 \
	VPBROADCASTD X13, Y13 \
	VBROADCASTI128 (R8), Y15 \
	VXORPS       X0, X0, X0

// func dotIQ4_NLQ8_0AVX2(nb int, w, x *byte) float32
TEXT ·dotIQ4_NLQ8_0AVX2(SB), NOSPLIT, $0-28
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ $·kvaluesIQ4NL(SB), R8
	IQ4_SETUP

iq4nlloop:
	IQ4_INT(2(SI), 2(DI))
	VCVTDQ2PS   X1, X1
	MOVWLZX     (SI), AX
	VMOVD       AX, X3
	VCVTPH2PS   X3, X3
	MOVWLZX     (DI), AX
	VMOVD       AX, X4
	VCVTPH2PS   X4, X4
	VMULSS      X4, X3, X3      // d_w·d_x
	VFMADD231SS X3, X1, X0      // sum = s·d + sum, one rounding
	ADDQ        $18, SI
	ADDQ        $34, DI
	DECQ        CX
	JNZ         iq4nlloop
	VMOVSS      X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotMXFP4Q8_0AVX2(nb int, w, x *byte) float32
TEXT ·dotMXFP4Q8_0AVX2(SB), NOSPLIT, $0-28
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ $·kvaluesMXFP4(SB), R8
	MOVQ $·e8m0HalfTable(SB), R9
	IQ4_SETUP

mxfp4loop:
	IQ4_INT(1(SI), 2(DI))
	VCVTDQ2PS   X1, X1
	MOVBLZX     (SI), AX
	VMOVSS      (R9)(AX*4), X3  // 2^(e-128)
	MOVWLZX     (DI), AX
	VMOVD       AX, X4
	VCVTPH2PS   X4, X4
	VMULSS      X4, X3, X3
	VFMADD231SS X3, X1, X0
	ADDQ        $17, SI
	ADDQ        $34, DI
	DECQ        CX
	JNZ         mxfp4loop
	VMOVSS      X0, ret+24(FP)
	VZEROUPPER
	RET

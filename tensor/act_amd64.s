//go:build amd64 && !purego

#include "textflag.h"

// Activation conversions with AVX-512: Q8_K quantization and F32 to F16.

DATA q8kEvenQ<>+0(SB)/8, $0
DATA q8kEvenQ<>+8(SB)/8, $2
DATA q8kEvenQ<>+16(SB)/8, $4
DATA q8kEvenQ<>+24(SB)/8, $6
DATA q8kEvenQ<>+32(SB)/8, $0
DATA q8kEvenQ<>+40(SB)/8, $2
DATA q8kEvenQ<>+48(SB)/8, $4
DATA q8kEvenQ<>+56(SB)/8, $6
GLOBL q8kEvenQ<>(SB), RODATA|NOPTR, $64

// func quantQ8_KAVX512(src *float32, dst *byte, nb int)
// quantizes nb super-blocks of 256 values to Q8_K exactly as quantQ8_KGo:
// maxv the first value of largest magnitude (NaN ignored), a block of
// zeros when that magnitude is 0, iscale = -127/maxv, values
// min(127, round-half-even(iscale·x)) saturated to int8 (NaN products
// giving 0), d = 1/iscale, and the sixteen sums of sixteen values.
TEXT ·quantQ8_KAVX512(SB), NOSPLIT, $0-24
	MOVQ         src+0(FP), SI
	MOVQ         dst+8(FP), DI
	MOVQ         nb+16(FP), CX
	MOVL         $0x7fffffff, AX
	VPBROADCASTD AX, Z15
	MOVL         $0xc2fe0000, AX // -127
	VMOVD        AX, X14
	MOVL         $0x3f800000, AX // 1
	VMOVD        AX, X11
	MOVL         $0x4e800000, AX // 2^30
	VPBROADCASTD AX, Z13
	MOVL         $0xce800000, AX // -2^30
	VPBROADCASTD AX, Z12
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Z10
	MOVQ         $2048, AX
	VPBROADCASTQ AX, Z9
	VMOVDQU64    q8kEvenQ<>(SB), Z8
	VPXORD       Z16, Z16, Z16
	TESTQ        CX, CX
	JZ           q8kdone

q8kloop:
	VPXORD Z0, Z0, Z0
	VANDPS  0(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  64(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  128(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  192(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  256(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  320(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  384(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  448(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  512(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  576(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  640(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  704(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  768(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  832(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  896(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VANDPS  960(SI), Z15, Z1
	VMAXPS  Z0, Z1, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0x4e, X0, X1
	VMAXPS        X1, X0, X0
	VMOVSHDUP     X0, X1
	VMAXSS        X1, X0, X0 // amax
	VXORPS        X2, X2, X2
	VUCOMISS      X2, X0
	JE            q8kzero
	VBROADCASTSS  X0, Z2
	XORQ          DX, DX

q8kfind:
	VANDPS  (SI)(DX*1), Z15, Z1
	VCMPPS  $0x00, Z2, Z1, K1
	KMOVW   K1, AX
	TESTL   AX, AX
	JNZ     q8kfound
	ADDQ    $64, DX
	JMP     q8kfind

q8kfound:
	TZCNTL       AX, AX
	LEAQ         (SI)(DX*1), R8
	VMOVSS       (R8)(AX*4), X3 // maxv
	VDIVSS       X3, X14, X4    // iscale = -127/maxv
	VDIVSS       X4, X11, X5    // d = 1/iscale
	VMOVSS       X5, (DI)
	VBROADCASTSS X4, Z4
	VMULPS      0(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 4(DI)
	VMULPS      64(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 20(DI)
	VMULPS      128(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 36(DI)
	VMULPS      192(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 52(DI)
	VMULPS      256(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 68(DI)
	VMULPS      320(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 84(DI)
	VMULPS      384(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 100(DI)
	VMULPS      448(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 116(DI)
	VMULPS      512(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 132(DI)
	VMULPS      576(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 148(DI)
	VMULPS      640(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 164(DI)
	VMULPS      704(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 180(DI)
	VMULPS      768(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 196(DI)
	VMULPS      832(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 212(DI)
	VMULPS      896(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 228(DI)
	VMULPS      960(SI), Z4, Z1
	VCMPPS      $0x07, Z1, Z1, K1
	VMINPS      Z13, Z1, Z1
	VMAXPS      Z12, Z1, Z1
	VCVTPS2DQ.Z Z1, K1, Z1
	VPMOVSDB    Z1, X1
	VMOVDQU     X1, 244(DI)

	// bsums: per 64 values, VPSADBW of the values +128 gives the sums of
	// eight (+1024); adjacent pairs make the sums of sixteen.
	VMOVDQU64 4(DI), Z1
	VPXORD    Z10, Z1, Z1
	VPSADBW   Z16, Z1, Z1
	VPSHUFD   $0x4e, Z1, Z2
	VPADDQ    Z2, Z1, Z1
	VPSUBQ    Z9, Z1, Z1
	VPERMQ    Z1, Z8, Z1
	VPMOVQW   Y1, X1
	VMOVQ     X1, 260(DI)
	VMOVDQU64 68(DI), Z1
	VPXORD    Z10, Z1, Z1
	VPSADBW   Z16, Z1, Z1
	VPSHUFD   $0x4e, Z1, Z2
	VPADDQ    Z2, Z1, Z1
	VPSUBQ    Z9, Z1, Z1
	VPERMQ    Z1, Z8, Z1
	VPMOVQW   Y1, X1
	VMOVQ     X1, 268(DI)
	VMOVDQU64 132(DI), Z1
	VPXORD    Z10, Z1, Z1
	VPSADBW   Z16, Z1, Z1
	VPSHUFD   $0x4e, Z1, Z2
	VPADDQ    Z2, Z1, Z1
	VPSUBQ    Z9, Z1, Z1
	VPERMQ    Z1, Z8, Z1
	VPMOVQW   Y1, X1
	VMOVQ     X1, 276(DI)
	VMOVDQU64 196(DI), Z1
	VPXORD    Z10, Z1, Z1
	VPSADBW   Z16, Z1, Z1
	VPSHUFD   $0x4e, Z1, Z2
	VPADDQ    Z2, Z1, Z1
	VPSUBQ    Z9, Z1, Z1
	VPERMQ    Z1, Z8, Z1
	VPMOVQW   Y1, X1
	VMOVQ     X1, 284(DI)
	JMP q8knext

q8kzero:
	VMOVDQU64 Z16, (DI)
	VMOVDQU64 Z16, 64(DI)
	VMOVDQU64 Z16, 128(DI)
	VMOVDQU64 Z16, 192(DI)
	VMOVDQU64 Y16, 256(DI)
	MOVL      $0, 288(DI)

q8knext:
	ADDQ $1024, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  q8kloop

q8kdone:
	VZEROUPPER
	RET

// func f32ToF16AVX512(src *float32, dst *uint16, n int)
// converts n values (a multiple of 16) to F16 with round-to-nearest-even,
// as F32ToF16 does.
TEXT ·f32ToF16AVX512(SB), NOSPLIT, $0-24
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   f16done

f16loop:
	VMOVUPS   (SI), Z0
	VCVTPS2PH $0, Z0, Y0
	VMOVDQU   Y0, (DI)
	ADDQ      $64, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       f16loop

f16done:
	VZEROUPPER
	RET

// func roundF16AVX512(src, dst *float32, n int)
// rounds n values (a multiple of 16) to F16 precision: dst = F16 to F32 of
// F32ToF16(src).
TEXT ·roundF16AVX512(SB), NOSPLIT, $0-24
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   r16done

r16loop:
	VMOVUPS   (SI), Z0
	VCVTPS2PH $0, Z0, Y0
	VCVTPH2PS Y0, Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       r16loop

r16done:
	VZEROUPPER
	RET

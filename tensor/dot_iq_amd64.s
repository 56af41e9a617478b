//go:build amd64 && !purego

#include "textflag.h"
#include "reduce_amd64.h"

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

// The super-block formats IQ4_XS, IQ2_XXS, IQ2_XS, IQ3_XXS and IQ3_S against
// Q8_K activations (d f32 @0, 256 int8 @4). Each sub-block of 32 elements
// becomes 32 weight bytes in element order (Y1) and its 32 activations (Y2)
// with the weight signs applied; VPMADDUBSW, then VPMADDWD by the sub-block
// scale as int16 (Y5), leaves in int32 lane k the products of elements 4k to
// 4k+3 times the scale: the lanes of the pure-Go twins' isum, summed exactly
// into Y9. Then either the vec_dot scaling (VEC_TAIL: the eight lanes times
// d_w·d_x into the float lanes of Y0 by FMA, as kLanes) or the IQ panel's
// (PANEL_TAIL: one FMA of the lanes' sum by (d_w·c)·d_x into X0).

// SUB_DOT(yoff) multiplies the unsigned weights Y1 by the activations at
// yoff(DI) signed by Y3 (bytes ±1), times the int16 scales Y5, into Y9.
#define SUB_DOT(yoff) \
	VMOVDQU    yoff(DI), Y2 \
	VPSIGNB    Y3, Y2, Y2 \
	VPMADDUBSW Y2, Y1, Y1 \
	VPMADDWD   Y5, Y1, Y1 \
	VPADDD     Y1, Y9, Y9

// SCALE16(r) broadcasts the int16 in r's low word to every word of Y5.
#define SCALE16(r) \
	VMOVD        r, X5 \
	VPBROADCASTW X5, Y5

// VEC_TAIL adds Y9's lanes times d_w·d_x into the float lanes of Y0.
#define VEC_TAIL \
	VCVTDQ2PS    Y9, Y9 \
	MOVWLZX      (SI), AX \
	VMOVD        AX, X10 \
	VCVTPH2PS    X10, X10 \
	VMULSS       (DI), X10, X10 \
	VBROADCASTSS X10, Y10 \
	VFMADD231PS  Y9, Y10, Y0

// PANEL_TAIL(c) adds float(Σ Y9) × ((d_w·c)·d_x) to X0 with one rounding; c
// is the address of dfac's factor.
#define PANEL_TAIL(c) \
	VEXTRACTI128 $1, Y9, X1 \
	VPADDD       X1, X9, X9 \
	VPSHUFD      $0x4e, X9, X1 \
	VPADDD       X1, X9, X9 \
	VPSHUFD      $0xb1, X9, X1 \
	VPADDD       X1, X9, X9 \
	VCVTDQ2PS    X9, X9 \
	MOVWLZX      (SI), AX \
	VMOVD        AX, X10 \
	VCVTPH2PS    X10, X10 \
	VMULSS       c, X10, X10 \
	VMULSS       (DI), X10, X10 \
	VFMADD231SS  X10, X9, X0

// iqPanelC holds dfac's factors 1, 1/4 and 1/8.
DATA iqPanelC<>+0(SB)/4, $0x3f800000
DATA iqPanelC<>+4(SB)/4, $0x3e800000
DATA iqPanelC<>+8(SB)/4, $0x3e000000
GLOBL iqPanelC<>(SB), RODATA|NOPTR, $12

// ---- IQ4_XS (136 bytes): d f16 @0, scales_h u16 @2, scales_l[4] @4, qs[128] @8.

// IQ4XS_SCALES stores the eight sub-block scales of the super-block at SI,
// minus 32, as int16 at sc-16(SP): the low 4 bits are the nibbles of
// scales_l in order (byte ib/2, low nibble first), the high 2 bits those of
// scales_h at bit 2·ib, moved to bits 14-15 by multiplying each word of its
// broadcast by 2^(14-2·ib) and shifted down.
#define IQ4XS_SCALES \
	VMOVD        4(SI), X5 \
	VPSRLW       $4, X5, X6 \
	VPAND        X14, X5, X5 \
	VPAND        X14, X6, X6 \
	VPUNPCKLBW   X6, X5, X5 \
	VPMOVZXBW    X5, X5 \
	VPBROADCASTW 2(SI), X6 \
	VPMULLW      iq4xsConst<>+0(SB), X6, X6 \
	VPSRLW       $14, X6, X6 \
	VPSLLW       $4, X6, X6 \
	VPOR         X6, X5, X5 \
	VPSUBW       iq4xsConst<>+16(SB), X5, X5 \
	VMOVDQU      X5, sc-16(SP)

// IQ4XS_SUB(soff, qoff, yoff): the sub-block whose scale is at soff(SP),
// its 16 code bytes at qoff(SI) (low nibbles: elements 0-15, high: 16-31)
// and its activations at yoff(DI). The codebook values are signed: the sign
// goes to the activations (VPSIGNB), the magnitude stays (VPABSB).
#define IQ4XS_SUB(soff, qoff, yoff) \
	VPBROADCASTW soff, Y5 \
	VMOVDQU      qoff(SI), X1 \
	VPSRLW       $4, X1, X2 \
	VINSERTI128  $1, X2, Y1, Y1 \
	VPAND        Y14, Y1, Y1 \
	VPSHUFB      Y1, Y15, Y1 \
	VMOVDQA      Y1, Y3 \
	VPABSB       Y1, Y1 \
	SUB_DOT(yoff)

#define IQ4XS_ISUM \
	VPXOR     Y9, Y9, Y9 \
	IQ4XS_SCALES \
	IQ4XS_SUB(sc-16(SP), 8, 4) \
	IQ4XS_SUB(sc-14(SP), 24, 36) \
	IQ4XS_SUB(sc-12(SP), 40, 68) \
	IQ4XS_SUB(sc-10(SP), 56, 100) \
	IQ4XS_SUB(sc-8(SP), 72, 132) \
	IQ4XS_SUB(sc-6(SP), 88, 164) \
	IQ4XS_SUB(sc-4(SP), 104, 196) \
	IQ4XS_SUB(sc-2(SP), 120, 228)

// iq4xsConst: the word multipliers 2^14, 2^12, …, 2^0 that move bits 2·ib
// of scales_h to bits 14-15, then eight words of 32.
DATA iq4xsConst<>+0(SB)/8, $0x0100040010004000
DATA iq4xsConst<>+8(SB)/8, $0x0001000400100040
DATA iq4xsConst<>+16(SB)/8, $0x0020002000200020
DATA iq4xsConst<>+24(SB)/8, $0x0020002000200020
GLOBL iq4xsConst<>(SB), RODATA|NOPTR, $32

#define IQ4XS_SETUP \
	MOVQ           nb+0(FP), CX \
	MOVQ           w+8(FP), SI \
	MOVQ           x+16(FP), DI \
	MOVQ           $·kvaluesIQ4NL(SB), R8 \
	VBROADCASTI128 (R8), Y15 \
	MOVL           $0x0f0f0f0f, AX \
	VMOVD          AX, X14 \
	VPBROADCASTD   X14, Y14 \
	VXORPS         Y0, Y0, Y0

// func dotIQ4_XSQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·dotIQ4_XSQ8_KAVX2(SB), NOSPLIT, $16-28
	IQ4XS_SETUP
iq4xsloop:
	IQ4XS_ISUM
	VEC_TAIL
	ADDQ $136, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  iq4xsloop
	SUM8(Y0, X0, X2)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func panelIQ4_XSQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·panelIQ4_XSQ8_KAVX2(SB), NOSPLIT, $16-28
	IQ4XS_SETUP
iq4xsploop:
	IQ4XS_ISUM
	PANEL_TAIL(iqPanelC<>+0(SB))
	ADDQ $136, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  iq4xsploop
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// The lattice formats: unsigned grid magnitudes (Y1) and sign bits that go to
// the activations as bytes ±1 (Y3). R8 holds the grid, R9 iq2SignBytes (the
// eight ±1 bytes of each 7-bit sign index, ksignsIQ2 expanded).

// SIGNS4(r) loads into Y3 the ±1 bytes of the four 7-bit sign indices in the
// low 28 bits of r (elements 0-7 from bits 0-6, and so on).
#define SIGNS4(r) \
	MOVL        r, AX \
	ANDL        $127, AX \
	VMOVQ       (R9)(AX*8), X3 \
	MOVL        r, AX \
	SHRL        $7, AX \
	ANDL        $127, AX \
	VPINSRQ     $1, (R9)(AX*8), X3, X3 \
	MOVL        r, AX \
	SHRL        $14, AX \
	ANDL        $127, AX \
	VMOVQ       (R9)(AX*8), X4 \
	MOVL        r, AX \
	SHRL        $21, AX \
	ANDL        $127, AX \
	VPINSRQ     $1, (R9)(AX*8), X4, X4 \
	VINSERTI128 $1, X4, Y3, Y3

// ODD_SCALE(r) sets Y5 to the scale 2·(r>>28)+1 of the IQ2_XXS and IQ3_XXS
// sub-blocks (clobbers r).
#define ODD_SCALE(r) \
	SHRL $28, r \
	LEAL 1(r)(r*1), AX \
	SCALE16(AX)

// ---- IQ2_XXS (66 bytes): d f16 @0, then per sub-block 4 grid indices and a
// u32 of four 7-bit sign indices and a 4-bit scale.

// IQ2XXS_SUB(q, q1, q2, q3, a, yoff): grid index bytes at q..q3(SI), the u32
// at a(SI), activations at yoff(DI).
#define IQ2XXS_SUB(q, q1, q2, q3, a, yoff) \
	MOVBLZX     q(SI), AX \
	VMOVQ       (R8)(AX*8), X1 \
	MOVBLZX     q1(SI), AX \
	VPINSRQ     $1, (R8)(AX*8), X1, X1 \
	MOVBLZX     q2(SI), AX \
	VMOVQ       (R8)(AX*8), X2 \
	MOVBLZX     q3(SI), AX \
	VPINSRQ     $1, (R8)(AX*8), X2, X2 \
	VINSERTI128 $1, X2, Y1, Y1 \
	MOVL        a(SI), DX \
	SIGNS4(DX) \
	ODD_SCALE(DX) \
	SUB_DOT(yoff)

#define IQ2XXS_ISUM \
	VPXOR Y9, Y9, Y9 \
	IQ2XXS_SUB(2, 3, 4, 5, 6, 4) \
	IQ2XXS_SUB(10, 11, 12, 13, 14, 36) \
	IQ2XXS_SUB(18, 19, 20, 21, 22, 68) \
	IQ2XXS_SUB(26, 27, 28, 29, 30, 100) \
	IQ2XXS_SUB(34, 35, 36, 37, 38, 132) \
	IQ2XXS_SUB(42, 43, 44, 45, 46, 164) \
	IQ2XXS_SUB(50, 51, 52, 53, 54, 196) \
	IQ2XXS_SUB(58, 59, 60, 61, 62, 228)

// ---- IQ2_XS (74 bytes): d f16 @0, 32 u16 @2 (9-bit grid index, 7-bit sign
// index), 8 scale bytes @66 (low nibble: elements 0-15, high: 16-31).

// IQ2XS_SUB(q0, q1, q2, q3, s, yoff): the sub-block whose four u16 are at
// q0..q3(SI), its scale byte at s(SI), its activations at yoff(DI).
#define IQ2XS_SUB(q0, q1, q2, q3, s, yoff) \
	MOVWLZX     q0(SI), AX \
	MOVL        AX, BX \
	ANDL        $511, AX \
	SHRL        $9, BX \
	VMOVQ       (R8)(AX*8), X1 \
	VMOVQ       (R9)(BX*8), X3 \
	MOVWLZX     q1(SI), AX \
	MOVL        AX, BX \
	ANDL        $511, AX \
	SHRL        $9, BX \
	VPINSRQ     $1, (R8)(AX*8), X1, X1 \
	VPINSRQ     $1, (R9)(BX*8), X3, X3 \
	MOVWLZX     q2(SI), AX \
	MOVL        AX, BX \
	ANDL        $511, AX \
	SHRL        $9, BX \
	VMOVQ       (R8)(AX*8), X2 \
	VMOVQ       (R9)(BX*8), X4 \
	MOVWLZX     q3(SI), AX \
	MOVL        AX, BX \
	ANDL        $511, AX \
	SHRL        $9, BX \
	VPINSRQ     $1, (R8)(AX*8), X2, X2 \
	VPINSRQ     $1, (R9)(BX*8), X4, X4 \
	VINSERTI128 $1, X2, Y1, Y1 \
	VINSERTI128 $1, X4, Y3, Y3 \
	MOVBLZX     s(SI), AX \
	MOVL        AX, BX \
	ANDL        $15, AX \
	LEAL        1(AX)(AX*1), AX \
	VMOVD       AX, X5 \
	VPBROADCASTW X5, X5 \
	SHRL        $4, BX \
	LEAL        1(BX)(BX*1), BX \
	VMOVD       BX, X6 \
	VPBROADCASTW X6, X6 \
	VINSERTI128 $1, X6, Y5, Y5 \
	SUB_DOT(yoff)

#define IQ2XS_ISUM \
	VPXOR Y9, Y9, Y9 \
	IQ2XS_SUB(2, 4, 6, 8, 66, 4) \
	IQ2XS_SUB(10, 12, 14, 16, 67, 36) \
	IQ2XS_SUB(18, 20, 22, 24, 68, 68) \
	IQ2XS_SUB(26, 28, 30, 32, 69, 100) \
	IQ2XS_SUB(34, 36, 38, 40, 70, 132) \
	IQ2XS_SUB(42, 44, 46, 48, 71, 164) \
	IQ2XS_SUB(50, 52, 54, 56, 72, 196) \
	IQ2XS_SUB(58, 60, 62, 64, 73, 228)

// ---- IQ3_XXS (98 bytes): d f16 @0, 64 grid index bytes @2, then per
// sub-block a u32 @66 of four 7-bit sign indices and a 4-bit scale.
#define IQ3XXS_SUB(q, a, yoff) \
	MOVBLZX   q(SI), AX \
	VMOVD     (R8)(AX*4), X1 \
	MOVBLZX   q+1(SI), AX \
	VPINSRD   $1, (R8)(AX*4), X1, X1 \
	MOVBLZX   q+2(SI), AX \
	VPINSRD   $2, (R8)(AX*4), X1, X1 \
	MOVBLZX   q+3(SI), AX \
	VPINSRD   $3, (R8)(AX*4), X1, X1 \
	MOVBLZX   q+4(SI), AX \
	VMOVD     (R8)(AX*4), X2 \
	MOVBLZX   q+5(SI), AX \
	VPINSRD   $1, (R8)(AX*4), X2, X2 \
	MOVBLZX   q+6(SI), AX \
	VPINSRD   $2, (R8)(AX*4), X2, X2 \
	MOVBLZX   q+7(SI), AX \
	VPINSRD   $3, (R8)(AX*4), X2, X2 \
	VINSERTI128 $1, X2, Y1, Y1 \
	MOVL      a(SI), DX \
	SIGNS4(DX) \
	ODD_SCALE(DX) \
	SUB_DOT(yoff)

#define IQ3XXS_ISUM \
	VPXOR Y9, Y9, Y9 \
	IQ3XXS_SUB(2, 66, 4) \
	IQ3XXS_SUB(10, 70, 36) \
	IQ3XXS_SUB(18, 74, 68) \
	IQ3XXS_SUB(26, 78, 100) \
	IQ3XXS_SUB(34, 82, 132) \
	IQ3XXS_SUB(42, 86, 164) \
	IQ3XXS_SUB(50, 90, 196) \
	IQ3XXS_SUB(58, 94, 228)

// IQ3S_POINT(q, sh) sets AX to the 9-bit grid index of the point whose low
// byte is at q(SI) and whose high bit is bit 8-sh of DX (the qh byte).
#define IQ3S_POINT(q, sh) \
	MOVBLZX q(SI), AX \
	MOVL    DX, BX \
	SHLL    $sh, BX \
	ANDL    $0x100, BX \
	ORL     BX, AX

// ---- IQ3_S (110 bytes): d f16 @0, 64 low index bytes @2, 8 bytes of 9th
// index bits @66, 32 sign bytes @74 (one bit per element), 4 scale bytes @106
// (two 4-bit scales each). Y13 holds the VPSHUFB control spreading sign
// byte l over elements 8l…8l+7, Y12 the bytes 1<<j, Y11 bytes 1.
#define IQ3S_SUB(q, h, sg, sc, ssh, yoff) \
	MOVBLZX      h(SI), DX \
	IQ3S_POINT(q, 8) \
	VMOVD        (R8)(AX*4), X1 \
	IQ3S_POINT(q+1, 7) \
	VPINSRD      $1, (R8)(AX*4), X1, X1 \
	IQ3S_POINT(q+2, 6) \
	VPINSRD      $2, (R8)(AX*4), X1, X1 \
	IQ3S_POINT(q+3, 5) \
	VPINSRD      $3, (R8)(AX*4), X1, X1 \
	IQ3S_POINT(q+4, 4) \
	VMOVD        (R8)(AX*4), X2 \
	IQ3S_POINT(q+5, 3) \
	VPINSRD      $1, (R8)(AX*4), X2, X2 \
	IQ3S_POINT(q+6, 2) \
	VPINSRD      $2, (R8)(AX*4), X2, X2 \
	IQ3S_POINT(q+7, 1) \
	VPINSRD      $3, (R8)(AX*4), X2, X2 \
	VINSERTI128  $1, X2, Y1, Y1 \
	VPBROADCASTD sg(SI), Y3 \
	VPSHUFB      Y13, Y3, Y3 \
	VPAND        Y12, Y3, Y3 \
	VPCMPEQB     Y12, Y3, Y3 \
	VPOR         Y11, Y3, Y3 \
	MOVBLZX      sc(SI), AX \
	SHRL         $ssh, AX \
	ANDL         $15, AX \
	LEAL         1(AX)(AX*1), AX \
	SCALE16(AX) \
	SUB_DOT(yoff)

#define IQ3S_ISUM \
	VPXOR Y9, Y9, Y9 \
	IQ3S_SUB(2, 66, 74, 106, 0, 4) \
	IQ3S_SUB(10, 67, 78, 106, 4, 36) \
	IQ3S_SUB(18, 68, 82, 107, 0, 68) \
	IQ3S_SUB(26, 69, 86, 107, 4, 100) \
	IQ3S_SUB(34, 70, 90, 108, 0, 132) \
	IQ3S_SUB(42, 71, 94, 108, 4, 164) \
	IQ3S_SUB(50, 72, 98, 109, 0, 196) \
	IQ3S_SUB(58, 73, 102, 109, 4, 228)

// iq3sConst: the sign-spreading VPSHUFB control and the bit bytes 1<<j,
// for IQ3_S.
DATA iq3sConst<>+0(SB)/8, $0x0000000000000000
DATA iq3sConst<>+8(SB)/8, $0x0101010101010101
DATA iq3sConst<>+16(SB)/8, $0x0202020202020202
DATA iq3sConst<>+24(SB)/8, $0x0303030303030303
DATA iq3sConst<>+32(SB)/8, $0x8040201008040201
DATA iq3sConst<>+40(SB)/8, $0x8040201008040201
DATA iq3sConst<>+48(SB)/8, $0x8040201008040201
DATA iq3sConst<>+56(SB)/8, $0x8040201008040201
GLOBL iq3sConst<>(SB), RODATA|NOPTR, $64

#define IQ3S_CONST \
	VMOVDQU      iq3sConst<>+0(SB), Y13 \
	VMOVDQU      iq3sConst<>+32(SB), Y12 \
	MOVL         $0x01010101, AX \
	VMOVD        AX, X11 \
	VPBROADCASTD X11, Y11

// func dotIQ2_XXSQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·dotIQ2_XXSQ8_KAVX2(SB), NOSPLIT, $0-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	MOVQ   $·iq2xxsGrid(SB), R8
	MOVQ   $·iq2SignBytes(SB), R9
	VXORPS Y0, Y0, Y0
iq2xxsloop:
	IQ2XXS_ISUM
	VEC_TAIL
	ADDQ $66, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  iq2xxsloop
	SUM8(Y0, X0, X2)
	VMULSS iqPanelC<>+8(SB), X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func panelIQ2_XXSQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·panelIQ2_XXSQ8_KAVX2(SB), NOSPLIT, $0-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	MOVQ   $·iq2xxsGrid(SB), R8
	MOVQ   $·iq2SignBytes(SB), R9
	VXORPS Y0, Y0, Y0
iq2xxsploop:
	IQ2XXS_ISUM
	PANEL_TAIL(iqPanelC<>+8(SB))
	ADDQ $66, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  iq2xxsploop
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotIQ2_XSQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·dotIQ2_XSQ8_KAVX2(SB), NOSPLIT, $0-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	MOVQ   $·iq2xsGrid(SB), R8
	MOVQ   $·iq2SignBytes(SB), R9
	VXORPS Y0, Y0, Y0
iq2xsloop:
	IQ2XS_ISUM
	VEC_TAIL
	ADDQ $74, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  iq2xsloop
	SUM8(Y0, X0, X2)
	VMULSS iqPanelC<>+8(SB), X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func panelIQ2_XSQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·panelIQ2_XSQ8_KAVX2(SB), NOSPLIT, $0-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	MOVQ   $·iq2xsGrid(SB), R8
	MOVQ   $·iq2SignBytes(SB), R9
	VXORPS Y0, Y0, Y0
iq2xsploop:
	IQ2XS_ISUM
	PANEL_TAIL(iqPanelC<>+8(SB))
	ADDQ $74, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  iq2xsploop
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotIQ3_XXSQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·dotIQ3_XXSQ8_KAVX2(SB), NOSPLIT, $0-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	MOVQ   $·iq3xxsGrid(SB), R8
	MOVQ   $·iq2SignBytes(SB), R9
	VXORPS Y0, Y0, Y0
iq3xxsloop:
	IQ3XXS_ISUM
	VEC_TAIL
	ADDQ $98, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  iq3xxsloop
	SUM8(Y0, X0, X2)
	VMULSS iqPanelC<>+4(SB), X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func panelIQ3_XXSQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·panelIQ3_XXSQ8_KAVX2(SB), NOSPLIT, $0-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	MOVQ   $·iq3xxsGrid(SB), R8
	MOVQ   $·iq2SignBytes(SB), R9
	VXORPS Y0, Y0, Y0
iq3xxsploop:
	IQ3XXS_ISUM
	PANEL_TAIL(iqPanelC<>+4(SB))
	ADDQ $98, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  iq3xxsploop
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotIQ3_SQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·dotIQ3_SQ8_KAVX2(SB), NOSPLIT, $0-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	MOVQ   $·iq3sGrid(SB), R8
	IQ3S_CONST
	VXORPS Y0, Y0, Y0
iq3sloop:
	IQ3S_ISUM
	VEC_TAIL
	ADDQ $110, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  iq3sloop
	SUM8(Y0, X0, X2)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func panelIQ3_SQ8_KAVX2(nb int, w, x *byte) float32
TEXT ·panelIQ3_SQ8_KAVX2(SB), NOSPLIT, $0-28
	MOVQ   nb+0(FP), CX
	MOVQ   w+8(FP), SI
	MOVQ   x+16(FP), DI
	MOVQ   $·iq3sGrid(SB), R8
	IQ3S_CONST
	VXORPS Y0, Y0, Y0
iq3sploop:
	IQ3S_ISUM
	PANEL_TAIL(iqPanelC<>+0(SB))
	ADDQ $110, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  iq3sploop
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

//go:build amd64 && !purego

#include "textflag.h"

// One-row products (token generation) over weights repacked at load time
// into groups of sixteen interleaved rows (see pack_amd64.go), on CPUs with
// AVX-512 VNNI. A group is one contiguous stream, and every register load
// carries four bytes of each of the sixteen rows, so each 32-bit lane is
// one row all the way through: no horizontal sums, no shuffles. Every row
// keeps the arithmetic of its vec-dot twin in dot.go (the same exact integer
// block sums, the same float multiplies and fused multiply-adds in block
// order), so the results are bit-identical.

// PF16 is how far ahead (bytes) the Q8_0 kernels prefetch their stream,
// PF40 the Q4_0 kernels (sixteen of their 288-byte blocks), non-temporally
// (PREFETCHNTA): each weight byte is read once per token, and keeping it
// out of the outer caches leaves them to the activations and the KV cache
// (Q4_0 generation +10 % at 1 thread, +13 % at 2 on the 400M file). Q4_0's
// longer distance keeps more of its stream in flight: 1B generation +15 %
// at 1 thread, +17 % at 2 against 1152 bytes; the one-stream Q8_0 kernel
// did not gain from it. PF80 is the two-stream Q8_0 kernel's distance,
// eight of its 544-byte blocks in each stream (+20 % at 1 thread, +12 % at
// 2 against no prefetch).
#define PF16 1152
#define PF40 4608
#define PF80 4352

// Q40_BLOCK(P, ACC): one block of the sixteen Q4_0 rows of the record at P
// against the activation record at DI: the exact integer sums (the -8·Σy
// correction first), then ACC = fma(float(sum), d_w·d_x, ACC) (Z31 holds
// the nibble mask; Z0–Z12 are scratch).
#define Q40_BLOCK(P, ACC) \
	VMOVDQU64     (P), Z0 \
	VMOVDQU64     64(P), Z1 \
	VMOVDQU64     128(P), Z2 \
	VMOVDQU64     192(P), Z3 \
	VPSRLW        $4, Z0, Z4 \
	VPSRLW        $4, Z1, Z5 \
	VPSRLW        $4, Z2, Z6 \
	VPSRLW        $4, Z3, Z7 \
	VPANDD        Z31, Z0, Z0 \
	VPANDD        Z31, Z1, Z1 \
	VPANDD        Z31, Z2, Z2 \
	VPANDD        Z31, Z3, Z3 \
	VPANDD        Z31, Z4, Z4 \
	VPANDD        Z31, Z5, Z5 \
	VPANDD        Z31, Z6, Z6 \
	VPANDD        Z31, Z7, Z7 \
	VPBROADCASTD  32(DI), Z8 \
	VPXORD        Z9, Z9, Z9 \
	VPXORD        Z10, Z10, Z10 \
	VPXORD        Z11, Z11, Z11 \
	VPDPBUSD.BCST 0(DI), Z0, Z8 \
	VPDPBUSD.BCST 4(DI), Z1, Z9 \
	VPDPBUSD.BCST 8(DI), Z2, Z10 \
	VPDPBUSD.BCST 12(DI), Z3, Z11 \
	VPDPBUSD.BCST 16(DI), Z4, Z8 \
	VPDPBUSD.BCST 20(DI), Z5, Z9 \
	VPDPBUSD.BCST 24(DI), Z6, Z10 \
	VPDPBUSD.BCST 28(DI), Z7, Z11 \
	VPADDD        Z9, Z8, Z8 \
	VPADDD        Z11, Z10, Z10 \
	VPADDD        Z10, Z8, Z8 \
	VCVTDQ2PS     Z8, Z8 \
	VCVTPH2PS     256(P), Z12 \
	VMULPS.BCST   36(DI), Z12, Z12 \
	VFMADD231PS   Z12, Z8, ACC

// func gemvQ4_0x16VNNI(nb int, w *byte, groups int, x *byte, dst *float32)
// computes dst[16g+i] = row 16g+i · x for g < groups. w holds the groups one
// after the other, nb 288-byte records each: four registers whose lane i
// holds bytes 4k..4k+3 of row i's block (values 4k..4k+3 in the low
// nibbles, 16+4k..19+4k in the high ones), then the sixteen f16 scales. x
// holds 40-byte records per block (packGemvQ4_0): the 32 values, -8·Σy as
// int32, the scale as float32.
TEXT ·gemvQ4_0x16VNNI(SB), NOSPLIT, $0-40
	MOVQ         w+8(FP), SI
	MOVQ         groups+16(FP), R15
	MOVQ         dst+32(FP), BX
	MOVL         $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z31

q40x16group:
	MOVQ   nb+0(FP), CX
	MOVQ   x+24(FP), DI
	VPXORD Z30, Z30, Z30

q40x16loop:
	PREFETCHNTA PF40(SI)
	PREFETCHNTA PF40+64(SI)
	PREFETCHNTA PF40+128(SI)
	PREFETCHNTA PF40+192(SI)
	PREFETCHNTA PF40+256(SI)
	Q40_BLOCK(SI, Z30)
	ADDQ           $288, SI
	ADDQ           $40, DI
	DECQ           CX
	JNZ            q40x16loop

	VMOVUPS Z30, (BX)
	ADDQ    $64, BX
	DECQ    R15
	JNZ     q40x16group
	VZEROUPPER
	RET

// func gemvQ4_0x16x2VNNI(nb int, wa, wb *byte, pairs int, x *byte, da, db *float32)
// is gemvQ4_0x16VNNI over two streams at once, as gemvQ8_0x16x2VNNI is
// gemvQ8_0x16VNNI's: groups g of wa and of wb (g < pairs) into da[16g:]
// and db[16g:].
TEXT ·gemvQ4_0x16x2VNNI(SB), NOSPLIT, $0-56
	MOVQ         wa+8(FP), SI
	MOVQ         wb+16(FP), R8
	MOVQ         pairs+24(FP), R15
	MOVQ         da+40(FP), BX
	MOVQ         db+48(FP), R9
	MOVL         $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z31

q40x2group:
	MOVQ   nb+0(FP), CX
	MOVQ   x+32(FP), DI
	VPXORD Z30, Z30, Z30
	VPXORD Z29, Z29, Z29

q40x2loop:
	PREFETCHNTA PF40(SI)
	PREFETCHNTA PF40+64(SI)
	PREFETCHNTA PF40+128(SI)
	PREFETCHNTA PF40+192(SI)
	PREFETCHNTA PF40+256(SI)
	PREFETCHNTA PF40(R8)
	PREFETCHNTA PF40+64(R8)
	PREFETCHNTA PF40+128(R8)
	PREFETCHNTA PF40+192(R8)
	PREFETCHNTA PF40+256(R8)
	Q40_BLOCK(SI, Z30)
	Q40_BLOCK(R8, Z29)
	ADDQ        $288, SI
	ADDQ        $288, R8
	ADDQ        $40, DI
	DECQ        CX
	JNZ         q40x2loop

	VMOVUPS Z30, (BX)
	VMOVUPS Z29, (R9)
	ADDQ    $64, BX
	ADDQ    $64, R9
	DECQ    R15
	JNZ     q40x2group
	VZEROUPPER
	RET

// Q80_GROUP(l, P, D, W, T, ACC): group l of four values of the block at
// P: W = its register l, T = the exact integer sum Σw·y of each row (the
// weights biased by +128, the bias cancelled by the record's -128·Σy), ACC =
// fma(D, float(T), ACC), D the scale products.
#define Q80_GROUP(l, P, D, W, T, ACC) \
	VMOVDQU64     (64*l)(P), W \
	VPBROADCASTD  (32+4*l)(DI), T \
	VPDPBUSD.BCST (4*l)(DI), W, T \
	VCVTDQ2PS     T, T \
	VFMADD231PS   D, T, ACC

// Q80_SUM8(A0..A7, T0..T3, DST): the eight accumulators added in Sum8's
// order, ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)), stored at DST.
#define Q80_SUM8(A0, A1, A2, A3, A4, A5, A6, A7, T0, T1, T2, T3, DST) \
	VADDPS  A4, A0, T0 \
	VADDPS  A6, A2, T1 \
	VADDPS  T1, T0, T0 \
	VADDPS  A5, A1, T2 \
	VADDPS  A7, A3, T3 \
	VADDPS  T3, T2, T2 \
	VADDPS  T2, T0, T0 \
	VMOVUPS T0, DST

// func gemvQ8_0x16VNNI(nb int, w *byte, groups int, x *byte, dst *float32)
// computes dst[16g+i] = row 16g+i · x for g < groups. w holds the groups one
// after the other, nb 544-byte records each: eight registers whose lane i
// holds values 4k..4k+3 of row i's block, each +128 (so unsigned), then the
// sixteen f16 scales. x holds 68-byte records per block (packActQ8_0). As
// the twin does, each row keeps eight accumulators (one per group of four
// values), added at the end in Sum8's order.
TEXT ·gemvQ8_0x16VNNI(SB), NOSPLIT, $0-40
	MOVQ         w+8(FP), SI
	MOVQ         groups+16(FP), R15
	MOVQ         dst+32(FP), BX

q80x16group:
	MOVQ   nb+0(FP), CX
	MOVQ   x+24(FP), DI
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

q80x16loop:
	PREFETCHNTA PF16(SI)
	PREFETCHNTA PF16+64(SI)
	PREFETCHNTA PF16+128(SI)
	PREFETCHNTA PF16+192(SI)
	PREFETCHNTA PF16+256(SI)
	PREFETCHNTA PF16+320(SI)
	PREFETCHNTA PF16+384(SI)
	PREFETCHNTA PF16+448(SI)
	PREFETCHNTA PF16+512(SI)
	VCVTPH2PS   512(SI), Z24
	VMULPS.BCST 64(DI), Z24, Z24
	Q80_GROUP(0, SI, Z24, Z0, Z8, Z16)
	Q80_GROUP(1, SI, Z24, Z1, Z9, Z17)
	Q80_GROUP(2, SI, Z24, Z2, Z10, Z18)
	Q80_GROUP(3, SI, Z24, Z3, Z11, Z19)
	Q80_GROUP(4, SI, Z24, Z4, Z12, Z20)
	Q80_GROUP(5, SI, Z24, Z5, Z13, Z21)
	Q80_GROUP(6, SI, Z24, Z6, Z14, Z22)
	Q80_GROUP(7, SI, Z24, Z7, Z15, Z23)
	ADDQ         $544, SI
	ADDQ         $68, DI
	DECQ         CX
	JNZ          q80x16loop

	Q80_SUM8(Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z0, Z1, Z2, Z3, (BX))
	ADDQ    $64, BX
	DECQ    R15
	JNZ     q80x16group
	VZEROUPPER
	RET

// func gemvQ8_0x16x2VNNI(nb int, wa, wb *byte, pairs int, x *byte, da, db *float32)
// is gemvQ8_0x16VNNI over two streams at once: groups g of wa and of wb
// (g < pairs) into da[16g:] and db[16g:], each row with the same arithmetic
// as there. Two sequential streams far apart keep more of the memory
// system's reads in flight than one (the hardware prefetchers follow each).
TEXT ·gemvQ8_0x16x2VNNI(SB), NOSPLIT, $0-56
	MOVQ wa+8(FP), SI
	MOVQ wb+16(FP), R8
	MOVQ pairs+24(FP), R15
	MOVQ da+40(FP), BX
	MOVQ db+48(FP), R9

q80x2group:
	MOVQ   nb+0(FP), CX
	MOVQ   x+32(FP), DI
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

q80x2loop:
	PREFETCHNTA PF80(SI)
	PREFETCHNTA PF80+64(SI)
	PREFETCHNTA PF80+128(SI)
	PREFETCHNTA PF80+192(SI)
	PREFETCHNTA PF80+256(SI)
	PREFETCHNTA PF80+320(SI)
	PREFETCHNTA PF80+384(SI)
	PREFETCHNTA PF80+448(SI)
	PREFETCHNTA PF80+512(SI)
	PREFETCHNTA PF80(R8)
	PREFETCHNTA PF80+64(R8)
	PREFETCHNTA PF80+128(R8)
	PREFETCHNTA PF80+192(R8)
	PREFETCHNTA PF80+256(R8)
	PREFETCHNTA PF80+320(R8)
	PREFETCHNTA PF80+384(R8)
	PREFETCHNTA PF80+448(R8)
	PREFETCHNTA PF80+512(R8)
	VCVTPH2PS   512(SI), Z14
	VMULPS.BCST 64(DI), Z14, Z14
	VCVTPH2PS   512(R8), Z15
	VMULPS.BCST 64(DI), Z15, Z15
	Q80_GROUP(0, SI, Z14, Z0, Z1, Z16)
	Q80_GROUP(0, R8, Z15, Z2, Z3, Z24)
	Q80_GROUP(1, SI, Z14, Z4, Z5, Z17)
	Q80_GROUP(1, R8, Z15, Z6, Z7, Z25)
	Q80_GROUP(2, SI, Z14, Z8, Z9, Z18)
	Q80_GROUP(2, R8, Z15, Z10, Z11, Z26)
	Q80_GROUP(3, SI, Z14, Z12, Z13, Z19)
	Q80_GROUP(3, R8, Z15, Z0, Z1, Z27)
	Q80_GROUP(4, SI, Z14, Z2, Z3, Z20)
	Q80_GROUP(4, R8, Z15, Z4, Z5, Z28)
	Q80_GROUP(5, SI, Z14, Z6, Z7, Z21)
	Q80_GROUP(5, R8, Z15, Z8, Z9, Z29)
	Q80_GROUP(6, SI, Z14, Z10, Z11, Z22)
	Q80_GROUP(6, R8, Z15, Z12, Z13, Z30)
	Q80_GROUP(7, SI, Z14, Z0, Z1, Z23)
	Q80_GROUP(7, R8, Z15, Z2, Z3, Z31)
	ADDQ        $544, SI
	ADDQ        $544, R8
	ADDQ        $68, DI
	DECQ        CX
	JNZ         q80x2loop

	Q80_SUM8(Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z0, Z1, Z2, Z3, (BX))
	Q80_SUM8(Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31, Z0, Z1, Z2, Z3, (R9))
	ADDQ $64, BX
	ADDQ $64, R9
	DECQ R15
	JNZ  q80x2group
	VZEROUPPER
	RET

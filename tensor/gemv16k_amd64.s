//go:build amd64 && !purego

#include "textflag.h"

// One-row products over Q4_K weights repacked at load time into groups of
// sixteen interleaved rows (see packk_amd64.go), on CPUs with AVX-512 VNNI.
// As in gemv16_amd64.s each 32-bit lane is one row from load to store. Every
// row keeps the arithmetic of dotQ4_KQ8_KGo: per super-block eight exact
// integer lane sums (lane L: the elements whose index mod 32 is in
// [4L, 4L+4), each times its sub-block scale) and four exact sums of the
// mins term, then the same float multiplies and fused multiply-adds in
// super-block order, and the same final reduction.

// VPSHUFB controls, per 32-bit lane of each 128-bit lane: kS<b> copies byte
// b of the lane into both of its words (a sub-block scale as an int16 pair);
// kM0 and kM1 copy bytes 0 and 1, or 2 and 3, into the two words (a pair of
// mins).
#define CTRL(name, lo, hi) \
	DATA name<>+0(SB)/8, lo \
	DATA name<>+8(SB)/8, hi \
	DATA name<>+16(SB)/8, lo \
	DATA name<>+24(SB)/8, hi \
	DATA name<>+32(SB)/8, lo \
	DATA name<>+40(SB)/8, hi \
	DATA name<>+48(SB)/8, lo \
	DATA name<>+56(SB)/8, hi \
	GLOBL name<>(SB), RODATA|NOPTR, $64

CTRL(kS0, $0x8004800480008000, $0x800c800c80088008)
CTRL(kS1, $0x8005800580018001, $0x800d800d80098009)
CTRL(kS2, $0x8006800680028002, $0x800e800e800a800a)
CTRL(kS3, $0x8007800780038003, $0x800f800f800b800b)
CTRL(kM0, $0x8005800480018000, $0x800d800c80098008)
CTRL(kM1, $0x8007800680038002, $0x800f800e800b800a)

DATA k3f<>+0(SB)/4, $0x3f3f3f3f
GLOBL k3f<>(SB), RODATA|NOPTR, $4
DATA k03<>+0(SB)/4, $0x03030303
GLOBL k03<>(SB), RODATA|NOPTR, $4

// PFK is how far ahead (bytes) the Q4_K kernel prefetches its stream,
// non-temporally as gemv16_amd64.s does: three super-blocks of sixteen
// rows (Q4_K_M generation +19 % at 1 thread, +13 % at 2 against one).
#define PFK 6912

// Q4K_STEP(r, yoff, ISUM): register r (= 8g+L) of the super-block: the low
// nibbles (sub-block 2g, scale pair in Z26) times the activation dword at
// yoff, the high nibbles (sub-block 2g+1, scale pair in Z27) times the one
// 32 bytes on, into ISUM's lanes.
#define Q4K_STEP(r, yoff, ISUM) \
	PREFETCHNTA  (PFK+64*(r))(SI) \
	VMOVDQU64    (64*(r))(SI), Z22 \
	VPSRLW       $4, Z22, Z23 \
	VPANDD       Z31, Z22, Z22 \
	VPANDD       Z31, Z23, Z23 \
	VPBROADCASTD ((yoff))(DI), Z24 \
	VPBROADCASTD ((yoff)+32)(DI), Z25 \
	VPMADDUBSW   Z24, Z22, Z22 \
	VPMADDUBSW   Z25, Z23, Z23 \
	VPDPWSSD     Z26, Z22, ISUM \
	VPDPWSSD     Z27, Z23, ISUM

#define Q4K_GROUP(g) \
	Q4K_STEP(8*g+0, 64*g+0, Z12) \
	Q4K_STEP(8*g+1, 64*g+4, Z13) \
	Q4K_STEP(8*g+2, 64*g+8, Z14) \
	Q4K_STEP(8*g+3, 64*g+12, Z15) \
	Q4K_STEP(8*g+4, 64*g+16, Z16) \
	Q4K_STEP(8*g+5, 64*g+20, Z17) \
	Q4K_STEP(8*g+6, 64*g+24, Z18) \
	Q4K_STEP(8*g+7, 64*g+28, Z19)

// Q4K_MINS(ctrl, MN, off, ACC): the mins pair of MN selected by ctrl times
// the bsums pair at off in the record, as float, fused into ACC with the
// factor in Z28.
#define Q4K_MINS(ctrl, MN, off, ACC) \
	VPSHUFB       ctrl<>(SB), MN, Z29 \
	VPXORD        Z30, Z30, Z30 \
	VPDPWSSD.BCST (off)(DI), Z29, Z30 \
	VCVTDQ2PS     Z30, Z30 \
	VFMADD231PS   Z30, Z28, ACC

// Q4K_SUPERBLOCK: one super-block of the sixteen rows of the record at SI
// against the activation record at DI, into the accumulators Z0–Z11 (the
// eight lane sums, then the four mins terms): the scales and mins of the
// rows (k4Scales), the mins term with dmin = -d_x·dmin_w, the lane sums of
// the four groups of sub-blocks, and acc[L] = fma(d_x·d_w, float(isum[L]),
// acc[L]).
#define Q4K_SUPERBLOCK \
	PREFETCHNTA (PFK+2048)(SI) \
	PREFETCHNTA (PFK+2112)(SI) \
	PREFETCHNTA (PFK+2176)(SI) \
	PREFETCHNTA (PFK+2240)(SI) \
	VMOVDQU64   2112(SI), Z22 \
	VMOVDQU64   2176(SI), Z23 \
	VMOVDQU64   2240(SI), Z24 \
	VPANDD.BCST k3f<>(SB), Z22, Z20 \
	VPANDD.BCST k3f<>(SB), Z23, Z25 \
	VPSRLD      $6, Z22, Z22 \
	VPANDD.BCST k03<>(SB), Z22, Z22 \
	VPSLLD      $4, Z22, Z22 \
	VPANDD      Z31, Z24, Z21 \
	VPORD       Z22, Z21, Z21 \
	VPSRLD      $6, Z23, Z23 \
	VPANDD.BCST k03<>(SB), Z23, Z23 \
	VPSLLD      $4, Z23, Z23 \
	VPSRLD      $4, Z24, Z24 \
	VPANDD      Z31, Z24, Z24 \
	VPORD       Z23, Z24, Z24 \
	VCVTPH2PS   2080(SI), Z28 \
	VMULPS.BCST 260(DI), Z28, Z28 \
	Q4K_MINS(kM0, Z25, 264, Z8) \
	Q4K_MINS(kM1, Z25, 268, Z9) \
	Q4K_MINS(kM0, Z24, 272, Z10) \
	Q4K_MINS(kM1, Z24, 276, Z11) \
	VPXORD  Z12, Z12, Z12 \
	VPXORD  Z13, Z13, Z13 \
	VPXORD  Z14, Z14, Z14 \
	VPXORD  Z15, Z15, Z15 \
	VPXORD  Z16, Z16, Z16 \
	VPXORD  Z17, Z17, Z17 \
	VPXORD  Z18, Z18, Z18 \
	VPXORD  Z19, Z19, Z19 \
	VPSHUFB kS0<>(SB), Z20, Z26 \
	VPSHUFB kS1<>(SB), Z20, Z27 \
	Q4K_GROUP(0) \
	VPSHUFB kS2<>(SB), Z20, Z26 \
	VPSHUFB kS3<>(SB), Z20, Z27 \
	Q4K_GROUP(1) \
	VPSHUFB kS0<>(SB), Z21, Z26 \
	VPSHUFB kS1<>(SB), Z21, Z27 \
	Q4K_GROUP(2) \
	VPSHUFB kS2<>(SB), Z21, Z26 \
	VPSHUFB kS3<>(SB), Z21, Z27 \
	Q4K_GROUP(3) \
	VCVTPH2PS   2048(SI), Z28 \
	VMULPS.BCST 256(DI), Z28, Z28 \
	VCVTDQ2PS   Z12, Z12 \
	VCVTDQ2PS   Z13, Z13 \
	VCVTDQ2PS   Z14, Z14 \
	VCVTDQ2PS   Z15, Z15 \
	VCVTDQ2PS   Z16, Z16 \
	VCVTDQ2PS   Z17, Z17 \
	VCVTDQ2PS   Z18, Z18 \
	VCVTDQ2PS   Z19, Z19 \
	VFMADD231PS Z12, Z28, Z0 \
	VFMADD231PS Z13, Z28, Z1 \
	VFMADD231PS Z14, Z28, Z2 \
	VFMADD231PS Z15, Z28, Z3 \
	VFMADD231PS Z16, Z28, Z4 \
	VFMADD231PS Z17, Z28, Z5 \
	VFMADD231PS Z18, Z28, Z6 \
	VFMADD231PS Z19, Z28, Z7

// Q4K_REDUCE(DST): Sum8(acc) + ((accm0+accm2) + (accm1+accm3)) of the
// accumulators Z0–Z11, stored at DST.
#define Q4K_REDUCE(DST) \
	VADDPS  Z4, Z0, Z0 \
	VADDPS  Z6, Z2, Z2 \
	VADDPS  Z2, Z0, Z0 \
	VADDPS  Z5, Z1, Z1 \
	VADDPS  Z7, Z3, Z3 \
	VADDPS  Z3, Z1, Z1 \
	VADDPS  Z1, Z0, Z0 \
	VADDPS  Z10, Z8, Z8 \
	VADDPS  Z11, Z9, Z9 \
	VADDPS  Z9, Z8, Z8 \
	VADDPS  Z8, Z0, Z0 \
	VMOVUPS Z0, DST

// Q4K_ACCS(OP, base): OP (a move) between the accumulators Z0–Z11 and the
// twelve registers' worth of memory at base(R10).
#define Q4K_ACCS(OP, base) \
	OP base+0(R10), Z0 \
	OP base+64(R10), Z1 \
	OP base+128(R10), Z2 \
	OP base+192(R10), Z3 \
	OP base+256(R10), Z4 \
	OP base+320(R10), Z5 \
	OP base+384(R10), Z6 \
	OP base+448(R10), Z7 \
	OP base+512(R10), Z8 \
	OP base+576(R10), Z9 \
	OP base+640(R10), Z10 \
	OP base+704(R10), Z11

#define Q4K_SAVE(base) \
	VMOVUPS Z0, base+0(R10) \
	VMOVUPS Z1, base+64(R10) \
	VMOVUPS Z2, base+128(R10) \
	VMOVUPS Z3, base+192(R10) \
	VMOVUPS Z4, base+256(R10) \
	VMOVUPS Z5, base+320(R10) \
	VMOVUPS Z6, base+384(R10) \
	VMOVUPS Z7, base+448(R10) \
	VMOVUPS Z8, base+512(R10) \
	VMOVUPS Z9, base+576(R10) \
	VMOVUPS Z10, base+640(R10) \
	VMOVUPS Z11, base+704(R10)

// func gemvQ4_Kx16VNNI(nsb int, w *byte, groups int, x *byte, dst *float32)
// computes dst[16g+i] = row 16g+i · x for g < groups. w holds the groups one
// after the other, nsb 2304-byte records each: 32 registers (register 8g+L:
// lane i holds bytes 32g+4L..32g+4L+3 of row i's nibbles), the sixteen f16
// d, the sixteen f16 dmin, then three registers of the scale bytes (lane i
// of register k: bytes 4k..4k+3 of row i's twelve). x holds 288-byte
// records per super-block (packGemvQ4_K): the 256 values, d, -d as float32,
// the eight sums of bsum pairs as int16.
TEXT ·gemvQ4_Kx16VNNI(SB), NOSPLIT, $0-40
	MOVQ         w+8(FP), SI
	MOVQ         groups+16(FP), R15
	MOVQ         dst+32(FP), BX
	MOVL         $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z31

q4kx16group:
	MOVQ   nsb+0(FP), CX
	MOVQ   x+24(FP), DI
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11

q4kx16loop:
	Q4K_SUPERBLOCK

	ADDQ $2304, SI
	ADDQ $288, DI
	DECQ CX
	JNZ  q4kx16loop

	Q4K_REDUCE((BX))
	ADDQ    $64, BX
	DECQ    R15
	JNZ     q4kx16group
	VZEROUPPER
	RET

// func gemvQ4_Kx16x2VNNI(nsb int, wa, wb *byte, pairs int, x *byte, da, db *float32, acc *float32)
// is gemvQ4_Kx16VNNI over two streams at once (as gemvQ8_0x16x2VNNI is
// gemvQ8_0x16VNNI's): groups g of wa and of wb (g < pairs) into da[16g:]
// and db[16g:], a super-block of one then of the other. The accumulators
// of the stream not running wait in acc (2 × 12 registers: 1536 bytes).
TEXT ·gemvQ4_Kx16x2VNNI(SB), NOSPLIT, $0-64
	MOVQ         wa+8(FP), R8
	MOVQ         wb+16(FP), R9
	MOVQ         pairs+24(FP), R15
	MOVQ         da+40(FP), BX
	MOVQ         db+48(FP), R11
	MOVQ         acc+56(FP), R10
	MOVL         $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z31

q4kx2group:
	MOVQ   nsb+0(FP), CX
	MOVQ   x+32(FP), DI
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	Q4K_SAVE(768)

q4kx2loop:
	MOVQ R8, SI
	Q4K_SUPERBLOCK
	Q4K_SAVE(0)
	Q4K_ACCS(VMOVUPS, 768)
	MOVQ R9, SI
	Q4K_SUPERBLOCK
	Q4K_SAVE(768)
	Q4K_ACCS(VMOVUPS, 0)
	ADDQ $2304, R8
	ADDQ $2304, R9
	ADDQ $288, DI
	DECQ CX
	JNZ  q4kx2loop

	Q4K_REDUCE((BX))
	Q4K_ACCS(VMOVUPS, 768)
	Q4K_REDUCE((R11))
	ADDQ $64, BX
	ADDQ $64, R11
	DECQ R15
	JNZ  q4kx2group
	VZEROUPPER
	RET

// kH<b>: VPSHUFB controls putting byte b of each 32-bit lane into the high
// byte of both its words (VPSRAW $8 then sign-extends: a signed Q6_K
// sub-block scale as an int16 pair).
CTRL(kH0, $0x0480048000800080, $0x0c800c8008800880)
CTRL(kH1, $0x0580058001800180, $0x0d800d8009800980)
CTRL(kH2, $0x0680068002800280, $0x0e800e800a800a80)
CTRL(kH3, $0x0780078003800380, $0x0f800f800b800b80)

// PF6 is how far ahead (bytes) the Q6_K kernel prefetches its stream,
// non-temporally: three super-blocks of sixteen rows, as PFK (Q4_K_M
// generation +11 % at 1 thread, +8 % at 2 against one super-block; four
// were slower than two).
#define PF6 10080

// Q6K_PART(yoff, Q, S, ISUM): the sixteen rows' 6-bit values Q (unsigned,
// q+32) times the activation dword at yoff, minus 32·Σy through the record's
// correction pair at 256+yoff, times the scale pair S, into ISUM.
#define Q6K_PART(yoff, Q, S, ISUM) \
	VPBROADCASTD  (yoff)(DI), Z27 \
	VPMADDUBSW    Z27, Q, Q \
	VPDPWSSD      S, Q, ISUM \
	VPDPWSSD.BCST (256+(yoff))(DI), S, ISUM

// Q6K_STEP(h, L, S0, S2, S4, S6, ISUM): lane L of half h: the registers of
// ql[4L..], ql[32+4L..] and qh[4L..] at 192·(8h+L) give the four values q1
// (activation 4L), q3 (+64), q2 (+32) and q4 (+96) of each row.
#define Q6K_STEP(h, L, S0, S2, S4, S6, ISUM) \
	PREFETCHNTA (PF6+192*(8*(h)+(L)))(SI) \
	PREFETCHNTA (PF6+192*(8*(h)+(L))+64)(SI) \
	PREFETCHNTA (PF6+192*(8*(h)+(L))+128)(SI) \
	VMOVDQU64  (192*(8*(h)+(L))+128)(SI), Z24 \
	VMOVDQU64  (192*(8*(h)+(L)))(SI), Z25 \
	VPSLLW     $4, Z24, Z26 \
	VPANDD     Z30, Z26, Z26 \
	VPANDD     Z31, Z25, Z27 \
	VPORD      Z27, Z26, Z26 \
	Q6K_PART(128*(h)+4*(L), Z26, S0, ISUM) \
	VPSRLW     $4, Z25, Z26 \
	VPANDD     Z31, Z26, Z26 \
	VPANDD     Z30, Z24, Z27 \
	VPORD      Z27, Z26, Z26 \
	Q6K_PART(128*(h)+64+4*(L), Z26, S4, ISUM) \
	VMOVDQU64  (192*(8*(h)+(L))+64)(SI), Z25 \
	VPSLLW     $2, Z24, Z26 \
	VPANDD     Z30, Z26, Z26 \
	VPANDD     Z31, Z25, Z27 \
	VPORD      Z27, Z26, Z26 \
	Q6K_PART(128*(h)+32+4*(L), Z26, S2, ISUM) \
	VPSRLW     $2, Z24, Z26 \
	VPANDD     Z30, Z26, Z26 \
	VPSRLW     $4, Z25, Z27 \
	VPANDD     Z31, Z27, Z27 \
	VPORD      Z27, Z26, Z26 \
	Q6K_PART(128*(h)+96+4*(L), Z26, S6, ISUM)

// Q6K_HALF(h): the sixteen scale pairs of half h into Z16..Z23 (scale
// 2p+hf of the half in Z16+2p+hf), then its eight lanes.
#define Q6K_HALF(h) \
	VMOVDQU64 (3072+128*(h))(SI), Z24 \
	VMOVDQU64 (3072+128*(h)+64)(SI), Z25 \
	VPSHUFB   kH0<>(SB), Z24, Z16 \
	VPSHUFB   kH1<>(SB), Z24, Z17 \
	VPSHUFB   kH2<>(SB), Z24, Z18 \
	VPSHUFB   kH3<>(SB), Z24, Z19 \
	VPSHUFB   kH0<>(SB), Z25, Z20 \
	VPSHUFB   kH1<>(SB), Z25, Z21 \
	VPSHUFB   kH2<>(SB), Z25, Z22 \
	VPSHUFB   kH3<>(SB), Z25, Z23 \
	VPSRAW    $8, Z16, Z16 \
	VPSRAW    $8, Z17, Z17 \
	VPSRAW    $8, Z18, Z18 \
	VPSRAW    $8, Z19, Z19 \
	VPSRAW    $8, Z20, Z20 \
	VPSRAW    $8, Z21, Z21 \
	VPSRAW    $8, Z22, Z22 \
	VPSRAW    $8, Z23, Z23 \
	Q6K_STEP(h, 0, Z16, Z18, Z20, Z22, Z8) \
	Q6K_STEP(h, 1, Z16, Z18, Z20, Z22, Z9) \
	Q6K_STEP(h, 2, Z16, Z18, Z20, Z22, Z10) \
	Q6K_STEP(h, 3, Z16, Z18, Z20, Z22, Z11) \
	Q6K_STEP(h, 4, Z17, Z19, Z21, Z23, Z12) \
	Q6K_STEP(h, 5, Z17, Z19, Z21, Z23, Z13) \
	Q6K_STEP(h, 6, Z17, Z19, Z21, Z23, Z14) \
	Q6K_STEP(h, 7, Z17, Z19, Z21, Z23, Z15)

// func gemvQ6_Kx16VNNI(nsb int, w *byte, groups int, x *byte, dst *float32)
// computes dst[16g+i] = row 16g+i · x for g < groups, keeping the arithmetic
// of dotQ6_KQ8_KGo per row (eight exact integer lanes per super-block, then
// acc[L] = fma(d_x·d_w, float(isum[L]), acc[L]), then Sum8). w holds the
// groups one after the other, nsb 3360-byte records each: per half h and
// lane L three registers (lane i: bytes 4L..4L+3 of row i's ql, of ql+32,
// of qh, of the half), then four registers of the sixteen scale bytes
// (lane i of register k: bytes 4k..4k+3 of row i's), then the sixteen f16
// d. x holds 576-byte records per super-block (packGemvQ6_K): the 256
// values, per group of four values -32·(y0+y1) and -32·(y2+y3) as int16,
// d as float32.
TEXT ·gemvQ6_Kx16VNNI(SB), NOSPLIT, $0-40
	MOVQ         w+8(FP), SI
	MOVQ         groups+16(FP), R15
	MOVQ         dst+32(FP), BX
	MOVL         $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z31
	MOVL         $0x30303030, AX
	VPBROADCASTD AX, Z30

q6kx16group:
	MOVQ   nsb+0(FP), CX
	MOVQ   x+24(FP), DI
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

q6kx16loop:
	PREFETCHNTA (PF6+3072)(SI)
	PREFETCHNTA (PF6+3136)(SI)
	PREFETCHNTA (PF6+3200)(SI)
	PREFETCHNTA (PF6+3264)(SI)
	PREFETCHNTA (PF6+3328)(SI)
	VPXORD     Z8, Z8, Z8
	VPXORD     Z9, Z9, Z9
	VPXORD     Z10, Z10, Z10
	VPXORD     Z11, Z11, Z11
	VPXORD     Z12, Z12, Z12
	VPXORD     Z13, Z13, Z13
	VPXORD     Z14, Z14, Z14
	VPXORD     Z15, Z15, Z15
	Q6K_HALF(0)
	Q6K_HALF(1)

	// acc[L] = fma(d_x·d_w, float(isum[L]), acc[L])
	VCVTPH2PS   3328(SI), Z28
	VMULPS.BCST 512(DI), Z28, Z28
	VCVTDQ2PS   Z8, Z8
	VCVTDQ2PS   Z9, Z9
	VCVTDQ2PS   Z10, Z10
	VCVTDQ2PS   Z11, Z11
	VCVTDQ2PS   Z12, Z12
	VCVTDQ2PS   Z13, Z13
	VCVTDQ2PS   Z14, Z14
	VCVTDQ2PS   Z15, Z15
	VFMADD231PS Z8, Z28, Z0
	VFMADD231PS Z9, Z28, Z1
	VFMADD231PS Z10, Z28, Z2
	VFMADD231PS Z11, Z28, Z3
	VFMADD231PS Z12, Z28, Z4
	VFMADD231PS Z13, Z28, Z5
	VFMADD231PS Z14, Z28, Z6
	VFMADD231PS Z15, Z28, Z7

	ADDQ $3360, SI
	ADDQ $576, DI
	DECQ CX
	JNZ  q6kx16loop

	// Sum8: ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7))
	VADDPS  Z4, Z0, Z0
	VADDPS  Z6, Z2, Z2
	VADDPS  Z2, Z0, Z0
	VADDPS  Z5, Z1, Z1
	VADDPS  Z7, Z3, Z3
	VADDPS  Z3, Z1, Z1
	VADDPS  Z1, Z0, Z0
	VMOVUPS Z0, (BX)
	ADDQ    $64, BX
	DECQ    R15
	JNZ     q6kx16group
	VZEROUPPER
	RET

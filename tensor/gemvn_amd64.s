//go:build amd64 && !purego

#include "textflag.h"

// PFN is how far ahead (bytes) the many-row Q4_0 kernel prefetches its
// stream.
#define PFN 1152

// Q40N_COL(ACC): one activation row's part of a block, exactly the one-row
// kernel's (gemvQ4_0x16VNNI): the exact integer sums of the sixteen rows
// against the record at DI (its -8·Σy correction first), then
// ACC = fma(float(sum), d_w·d_x, ACC); DI moves to the next row's record.
#define Q40N_COL(ACC) \
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
	VMULPS.BCST   36(DI), Z12, Z13 \
	VFMADD231PS   Z13, Z8, ACC \
	ADDQ          R11, DI

// func gemvQ4_0x16NVNNI(nb int, w *byte, groups int, x *byte, xstride, n int, dst *float32, dstride int)
// computes dst[c*dstride+16g+i] = row 16g+i · x_c for g < groups and c < n
// (1 ≤ n ≤ 16), w laid out as for gemvQ4_0x16VNNI and x_c the one-row
// kernel's 40-byte records per block at x+c*xstride. Each block of the
// sixteen rows is loaded and unpacked once; then every activation row goes
// through exactly the one-row kernel's integer sums, multiply and fused
// multiply-add, activation row c accumulating in Z14+c.
TEXT ·gemvQ4_0x16NVNNI(SB), NOSPLIT, $0-64
	MOVQ         w+8(FP), SI
	MOVQ         groups+16(FP), R15
	MOVQ         dst+48(FP), BX
	MOVQ         xstride+32(FP), R11
	MOVQ         n+40(FP), R12
	MOVQ         dstride+56(FP), DX
	SHLQ         $2, DX
	MOVL         $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z31

q40nGroup:
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
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
	MOVQ   nb+0(FP), CX
	MOVQ   x+24(FP), R8

q40nLoop:
	PREFETCHT0 PFN(SI)
	PREFETCHT0 PFN+64(SI)
	PREFETCHT0 PFN+128(SI)
	PREFETCHT0 PFN+192(SI)
	PREFETCHT0 PFN+256(SI)
	VMOVDQU64  (SI), Z0
	VMOVDQU64  64(SI), Z1
	VMOVDQU64  128(SI), Z2
	VMOVDQU64  192(SI), Z3
	VPSRLW     $4, Z0, Z4
	VPSRLW     $4, Z1, Z5
	VPSRLW     $4, Z2, Z6
	VPSRLW     $4, Z3, Z7
	VPANDD     Z31, Z0, Z0
	VPANDD     Z31, Z1, Z1
	VPANDD     Z31, Z2, Z2
	VPANDD     Z31, Z3, Z3
	VPANDD     Z31, Z4, Z4
	VPANDD     Z31, Z5, Z5
	VPANDD     Z31, Z6, Z6
	VPANDD     Z31, Z7, Z7
	VCVTPH2PS  256(SI), Z12
	MOVQ       R8, DI
	Q40N_COL(Z14)
	CMPQ R12, $1
	JEQ  q40nNext
	Q40N_COL(Z15)
	CMPQ R12, $2
	JEQ  q40nNext
	Q40N_COL(Z16)
	CMPQ R12, $3
	JEQ  q40nNext
	Q40N_COL(Z17)
	CMPQ R12, $4
	JEQ  q40nNext
	Q40N_COL(Z18)
	CMPQ R12, $5
	JEQ  q40nNext
	Q40N_COL(Z19)
	CMPQ R12, $6
	JEQ  q40nNext
	Q40N_COL(Z20)
	CMPQ R12, $7
	JEQ  q40nNext
	Q40N_COL(Z21)
	CMPQ R12, $8
	JEQ  q40nNext
	Q40N_COL(Z22)
	CMPQ R12, $9
	JEQ  q40nNext
	Q40N_COL(Z23)
	CMPQ R12, $10
	JEQ  q40nNext
	Q40N_COL(Z24)
	CMPQ R12, $11
	JEQ  q40nNext
	Q40N_COL(Z25)
	CMPQ R12, $12
	JEQ  q40nNext
	Q40N_COL(Z26)
	CMPQ R12, $13
	JEQ  q40nNext
	Q40N_COL(Z27)
	CMPQ R12, $14
	JEQ  q40nNext
	Q40N_COL(Z28)
	CMPQ R12, $15
	JEQ  q40nNext
	Q40N_COL(Z29)

q40nNext:
	ADDQ $288, SI
	ADDQ $40, R8
	DECQ CX
	JNZ  q40nLoop

	MOVQ BX, DI
	VMOVUPS Z14, (DI)
	CMPQ    R12, $1
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z15, (DI)
	CMPQ    R12, $2
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z16, (DI)
	CMPQ    R12, $3
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z17, (DI)
	CMPQ    R12, $4
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z18, (DI)
	CMPQ    R12, $5
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z19, (DI)
	CMPQ    R12, $6
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z20, (DI)
	CMPQ    R12, $7
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z21, (DI)
	CMPQ    R12, $8
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z22, (DI)
	CMPQ    R12, $9
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z23, (DI)
	CMPQ    R12, $10
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z24, (DI)
	CMPQ    R12, $11
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z25, (DI)
	CMPQ    R12, $12
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z26, (DI)
	CMPQ    R12, $13
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z27, (DI)
	CMPQ    R12, $14
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z28, (DI)
	CMPQ    R12, $15
	JEQ     q40nStored
	ADDQ    DX, DI
	VMOVUPS Z29, (DI)

q40nStored:
	ADDQ $64, BX
	DECQ R15
	JNZ  q40nGroup
	VZEROUPPER
	RET

//go:build amd64 && !purego

#include "textflag.h"
#include "reduce_amd64.h"

// Training GEMM micro-kernels: rows of A times a packed panel of 32 columns
// of B (k rows of 32 float32). Each output is one sequential sum over p of
// rounded products (VMULPS then VADDPS, never a fused multiply-add), exactly
// like GEMMRowsABt in sgemm.go, so trained weights stay bit-reproducible.

// ROW(R, A0, A1): accumulate row R's a[p] times the panel row in Z0:Z1.
#define ROW(R, A0, A1) \
	VBROADCASTSS (R)(AX*4), Z2 \
	VMULPS       Z0, Z2, Z4 \
	VADDPS       Z4, A0, A0 \
	VMULPS       Z1, Z2, Z5 \
	VADDPS       Z5, A1, A1

// STORE(A0, A1, C): C[0:32] = A (or C += A when R11 is non-zero), columns
// masked by K1 (0-15) and K2 (16-31).
#define STORE(A0, A1, C) \
	TESTQ     R11, R11 \
	JZ        3(PC) \
	VADDPS.Z  (C), A0, K1, A0 \
	VADDPS.Z  64(C), A1, K2, A1 \
	VMOVUPS   A0, K1, (C) \
	VMOVUPS   A1, K2, 64(C)

// STORESETUP loads the column masks into K1 and K2 and the acc flag into R11
// for STORE.
#define STORESETUP \
	MOVL    mask+52(FP), AX \
	KMOVW   AX, K1 \
	SHRL    $16, AX \
	KMOVW   AX, K2 \
	MOVBQZX acc+48(FP), R11

// func sgemm4x32(k int, a *float32, lda int, bp *float32, c *float32, ldc int, acc bool, mask uint32)
// computes rows 0-3 of C (ldc bytes apart) from rows 0-3 of A (lda bytes
// apart) and the packed panel bp; mask selects the valid columns.
TEXT ·sgemm4x32(SB), NOSPLIT, $0-56
	MOVQ   k+0(FP), CX
	MOVQ   a+8(FP), SI
	MOVQ   lda+16(FP), DX
	MOVQ   bp+24(FP), DI
	ROWS3(SI, DX, R8, R9, R10)
	ZERO_Z16_Z23
	XORQ   AX, AX
	TESTQ  CX, CX
	JZ     s4store

	MOVQ   CX, R12
	ANDQ   $-2, R12 // p steps taken two at a time
	JZ     s4tail

s4loop:
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	ROW(SI, Z16, Z17)
	ROW(R8, Z18, Z19)
	ROW(R9, Z20, Z21)
	ROW(R10, Z22, Z23)
	INCQ    AX
	VMOVUPS 128(DI), Z0
	VMOVUPS 192(DI), Z1
	ROW(SI, Z16, Z17)
	ROW(R8, Z18, Z19)
	ROW(R9, Z20, Z21)
	ROW(R10, Z22, Z23)
	INCQ    AX
	ADDQ    $256, DI
	CMPQ    AX, R12
	JLT     s4loop

s4tail:
	CMPQ    AX, CX
	JGE     s4store
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	ROW(SI, Z16, Z17)
	ROW(R8, Z18, Z19)
	ROW(R9, Z20, Z21)
	ROW(R10, Z22, Z23)

s4store:
	MOVQ    c+32(FP), BX
	MOVQ    ldc+40(FP), DX
	STORESETUP
	STORE(Z16, Z17, BX)
	ADDQ    DX, BX
	STORE(Z18, Z19, BX)
	ADDQ    DX, BX
	STORE(Z20, Z21, BX)
	ADDQ    DX, BX
	STORE(Z22, Z23, BX)
	VZEROUPPER
	RET

// func sgemm1x32(k int, a *float32, lda int, bp *float32, c *float32, ldc int, acc bool, mask uint32)
// is sgemm4x32 for one row.
TEXT ·sgemm1x32(SB), NOSPLIT, $0-56
	MOVQ   k+0(FP), CX
	MOVQ   a+8(FP), SI
	MOVQ   bp+24(FP), DI
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	XORQ   AX, AX
	TESTQ  CX, CX
	JZ     s1store

s1loop:
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	ROW(SI, Z16, Z17)
	ADDQ    $128, DI
	INCQ    AX
	CMPQ    AX, CX
	JLT     s1loop

s1store:
	MOVQ    c+32(FP), BX
	STORESETUP
	STORE(Z16, Z17, BX)
	VZEROUPPER
	RET

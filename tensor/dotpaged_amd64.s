//go:build amd64 && !purego

#include "textflag.h"
#include "reduce_amd64.h"

// Paged twins of dotF32AVX512, dotF16F16AVX512, gemmF32AVX512 and
// gemmF16F16AVX512 (see paged.go): a is the concatenation of the segments
// pages[j][off:off+size], size a multiple of 64; the FMA accumulators run on
// from one segment to the next, so the sums are those of one call over the
// concatenation. tail points at a's element n&^63 (the leftovers, which lie
// in one page) and is read only when n is not a multiple of 64.
// SI walks the current segment, DI b, R12 counts the segment's elements
// left, DX the aligned elements left.

// PRED4 reduces the accumulators Z0..Z3 to X0 as RED4 (dot_amd64.s).
#define PRED4 \
	VADDPS Z2, Z0, Z0 \
	VADDPS Z3, Z1, Z1 \
	VADDPS Z1, Z0, Z0 \
	SUM16(Z0, Y0, X0, Y1, X1)

// PAGE(done) moves SI to the next segment (R9 the next slice header) with
// R12 = min(size, DX) elements, taken off DX; jumps to done when DX is 0.
#define PAGE(done) \
	TESTQ   DX, DX   \
	JZ      done     \
	MOVQ    (R9), SI \
	ADDQ    R10, SI  \
	ADDQ    $24, R9  \
	MOVQ    R11, R12 \
	CMPQ    DX, R12  \
	CMOVQLT DX, R12  \
	SUBQ    R12, DX

// ARGS(shift, mask) loads the arguments: CX = n, DX = n&mask, R9 = pages,
// R10 = off in bytes, R11 = size, DI = b, R13 = tail.
#define ARGS(shift, mask) \
	MOVQ n+0(FP), CX       \
	MOVQ pages+8(FP), R9   \
	MOVQ off+16(FP), R10   \
	SHLQ $shift, R10       \
	MOVQ size+24(FP), R11  \
	MOVQ b+32(FP), DI      \
	MOVQ tail+40(FP), R13  \
	MOVQ CX, DX            \
	ANDQ $mask, DX

// func dotF32PagedAVX512(n int, pages *[]float32, off, size int, b, tail *float32) float32
TEXT ·dotF32PagedAVX512(SB), NOSPLIT, $0-52
	ARGS(2, -64)
	MOVQ   DX, R14 // aligned elements
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

pf32page:
	PAGE(pf32red)

pf32loop:
	VMOVUPS     (SI), Z4
	VMOVUPS     64(SI), Z5
	VMOVUPS     128(SI), Z6
	VMOVUPS     192(SI), Z7
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z6, Z2
	VFMADD231PS 192(DI), Z7, Z3
	ADDQ        $256, SI
	ADDQ        $256, DI
	SUBQ        $64, R12
	JNZ         pf32loop
	JMP         pf32page

pf32red:
	PRED4
	// the leftovers (CX-R14 of them at tail): rounded products added in
	// order up to a multiple of 8 (BX), then fused multiply-adds
	SUBQ R14, CX
	MOVQ CX, BX
	ANDQ $-8, BX
	XORQ AX, AX
	CMPQ AX, BX
	JGE  pf32fused

pf32mul:
	VMOVSS (R13)(AX*4), X1
	VMULSS (DI)(AX*4), X1, X1
	VADDSS X1, X0, X0
	INCQ   AX
	CMPQ   AX, BX
	JLT    pf32mul

pf32fused:
	CMPQ AX, CX
	JGE  pf32done

pf32tail:
	VMOVSS      (R13)(AX*4), X1
	VFMADD231SS (DI)(AX*4), X1, X0
	INCQ        AX
	CMPQ        AX, CX
	JLT         pf32tail

pf32done:
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// func dotF16F16PagedAVX512(n int, pages *[]uint16, off, size int, b, tail *uint16) float32
TEXT ·dotF16F16PagedAVX512(SB), NOSPLIT, $0-52
	ARGS(1, -64)
	MOVQ   DX, R14
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

phhpage:
	PAGE(phhred)

phhloop:
	// the same cells of the component two rows on (4·size bytes): a
	// value cache's rows are a page's cells of one component, so a head's
	// dot products walk every page a row at a time, crossing 4 KiB pages
	// the hardware prefetchers stop at
	PREFETCHT0  (SI)(R11*4)
	PREFETCHT0  64(SI)(R11*4)
	VCVTPH2PS   (SI), Z4
	VCVTPH2PS   32(SI), Z5
	VCVTPH2PS   64(SI), Z6
	VCVTPH2PS   96(SI), Z7
	VCVTPH2PS   (DI), Z8
	VCVTPH2PS   32(DI), Z9
	VCVTPH2PS   64(DI), Z10
	VCVTPH2PS   96(DI), Z11
	VFMADD231PS Z8, Z4, Z0
	VFMADD231PS Z9, Z5, Z1
	VFMADD231PS Z10, Z6, Z2
	VFMADD231PS Z11, Z7, Z3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $64, R12
	JNZ         phhloop
	JMP         phhpage

phhred:
	PRED4
	VCVTSS2SD X0, X0, X0
	SUBQ      R14, CX
	XORQ      AX, AX
	CMPQ      AX, CX
	JGE       phhdone

phhtail:
	MOVWLZX   (R13)(AX*2), BX
	VMOVD     BX, X1
	VCVTPH2PS X1, X1
	MOVWLZX   (DI)(AX*2), BX
	VMOVD     BX, X2
	VCVTPH2PS X2, X2
	VMULSS    X2, X1, X1
	VCVTSS2SD X1, X1, X1
	VADDSD    X1, X0, X0
	INCQ      AX
	CMPQ      AX, CX
	JLT       phhtail

phhdone:
	VCVTSD2SS X0, X0, X0
	VMOVSS    X0, ret+48(FP)
	VZEROUPPER
	RET

// func gemmF32PagedAVX512(n int, pages *[]float32, off, size int, b, tail *float32) float32 (n a multiple of 16)
TEXT ·gemmF32PagedAVX512(SB), NOSPLIT, $0-52
	ARGS(2, -16)
	VPXORD Z0, Z0, Z0

pgf32page:
	PAGE(pgf32red)

pgf32loop:
	VMOVUPS     (SI), Z4
	VFMADD231PS (DI), Z4, Z0
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, R12
	JNZ         pgf32loop
	JMP         pgf32page

pgf32red:
	SUM16(Z0, Y0, X0, Y1, X1)
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// func gemmF16F16PagedAVX512(n int, pages *[]uint16, off, size int, b, tail *uint16) float32 (n a multiple of 16)
TEXT ·gemmF16F16PagedAVX512(SB), NOSPLIT, $0-52
	ARGS(1, -16)
	VPXORD Z0, Z0, Z0

pghhpage:
	PAGE(pghhred)

pghhloop:
	VCVTPH2PS   (SI), Z4
	VCVTPH2PS   (DI), Z5
	VFMADD231PS Z5, Z4, Z0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $16, R12
	JNZ         pghhloop
	JMP         pghhpage

pghhred:
	SUM16(Z0, Y0, X0, Y1, X1)
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

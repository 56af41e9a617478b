// Macros of the six-activation-row float tiles (gemm_amd64.s), kept out
// of the .s file so that go vet's frame checks see them only where they are
// expanded, in the kernels whose frame holds the spill area they use. They
// use GF_LOADW, GF_ACT and GF_REDUCE of gemm_amd64.s.

// Six activation rows per tile: four weight rows by six activation rows,
// ten loads for twenty-four FMAs instead of eight for sixteen. Accumulators
// Z16+4i+j for activation rows j < 4 as in the four-row tiles, Z8+i for row
// 4 and Z12+i for row 5; the activation values go through Z0–Z3.

// GF6_STEP(LD, S) is GF_STEP over six activation rows (DI, R8, R9, R10,
// R11, R15).
#define GF6_STEP(LD, S) \
	GF_LOADW(LD, S) \
	GF_ACT(DI, Z0, Z16, Z20, Z24, Z28) \
	GF_ACT(R8, Z1, Z17, Z21, Z25, Z29) \
	GF_ACT(R9, Z2, Z18, Z22, Z26, Z30) \
	GF_ACT(R10, Z3, Z19, Z23, Z27, Z31) \
	GF_ACT(R11, Z0, Z8, Z9, Z10, Z11) \
	GF_ACT(R15, Z1, Z12, Z13, Z14, Z15) \
	ADDQ   $16, AX

// GF6_PROLOGUE sets the weight rows R12–R14 after SI and clears the
// twenty-four accumulators.
#define GF6_PROLOGUE \
	ROWS3(SI, DX, R12, R13, R14) \
	XORQ   AX, AX \
	ZERO_Z8_Z15 \
	ZERO_Z16_Z23 \
	ZERO_Z24_Z31

// GF6_NEXT_ROWS ends one block of a six-row kernel: rows 4 and 5's
// accumulators go to the frame, the first four rows are reduced and stored
// as GF_NEXT_ROWS does, then rows 4 and 5's are brought back into the
// places of rows 0 and 1 (Z16+4i, Z17+4i) and reduced the same way (the
// other lanes are not used), their sums stored at BX + 4·AX and BX + 5·AX
// bytes. BX moves on by four outputs, SI to the next four weight rows.
#define GF6_NEXT_ROWS \
	VMOVUPS        Z8, 0(SP) \
	VMOVUPS        Z9, 64(SP) \
	VMOVUPS        Z10, 128(SP) \
	VMOVUPS        Z11, 192(SP) \
	VMOVUPS        Z12, 256(SP) \
	VMOVUPS        Z13, 320(SP) \
	VMOVUPS        Z14, 384(SP) \
	VMOVUPS        Z15, 448(SP) \
	GF_REDUCE \
	VMOVUPS        X4, (BX) \
	VEXTRACTF32X4  $1, Z4, (BX)(AX*1) \
	VEXTRACTF32X4  $2, Z4, (BX)(AX*2) \
	LEAQ           (BX)(AX*2), R12 \
	VEXTRACTF32X4  $3, Z4, (R12)(AX*1) \
	VMOVUPS        0(SP), Z16 \
	VMOVUPS        64(SP), Z20 \
	VMOVUPS        128(SP), Z24 \
	VMOVUPS        192(SP), Z28 \
	VMOVUPS        256(SP), Z17 \
	VMOVUPS        320(SP), Z21 \
	VMOVUPS        384(SP), Z25 \
	VMOVUPS        448(SP), Z29 \
	GF_REDUCE \
	VMOVUPS        X4, (BX)(AX*4) \
	LEAQ           (BX)(AX*4), R12 \
	VEXTRACTF32X4  $1, Z4, (R12)(AX*1) \
	ADDQ           $16, BX \
	LEAQ           (R14)(DX*1), SI \
	DECQ           groups+56(FP)


// GF6_ROWS(LD, S) is the whole body of a six-row kernel whose weights LD
// loads as float32 from elements of S bytes (gemmF32TileRows6,
// gemmF16TileRows6); its frame holds GF6_NEXT_ROWS's spill area.
#define GF6_ROWS(LD, S) \
	MOVQ n+0(FP), CX \
	MOVQ w+8(FP), SI \
	MOVQ ws+16(FP), DX \
	MOVQ x+24(FP), DI \
	MOVQ xs+32(FP), AX \
	ROWS3(DI, AX, R8, R9, R10) \
	LEAQ (R10)(AX*1), R11 \
	LEAQ (R11)(AX*1), R15 \
	MOVQ out+40(FP), BX \
gf6group: \
	GF6_PROLOGUE \
gf6loop: \
	GF6_STEP(LD, S) \
	CMPQ AX, CX \
	JLT  gf6loop \
	MOVQ os+48(FP), AX \
	GF6_NEXT_ROWS \
	JNZ  gf6group \
	VZEROUPPER \
	RET

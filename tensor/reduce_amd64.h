// Horizontal sums shared by the assembly files of this package, in the
// reduction orders of Sum8 and Sum16 (ggml.go), the clearing of the AVX-512
// accumulator bank and the row pointers of the four-row kernels.

// SUM4(X, T) reduces the four lanes of X to its low lane:
// (v0+v2) + (v1+v3). T is clobbered.
#define SUM4(X, T) \
	VMOVHLPS  X, X, T \
	VADDPS    T, X, X \
	VMOVSHDUP X, T    \
	VADDSS    T, X, X

// SUM8(Y, X, T) reduces the eight lanes of Y to X's low lane as Sum8 does:
// ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7)). T is clobbered; X is Y's low half.
#define SUM8(Y, X, T) \
	VEXTRACTF128 $1, Y, T \
	VADDPS       T, X, X  \
	SUM4(X, T)

// ADD4(X, T, ACC) adds the four lanes of X to ACC's low lane one after the
// other: ((((acc+v0)+v1)+v2)+v3). T is clobbered.
#define ADD4(X, T, ACC) \
	VADDSS    X, ACC, ACC \
	VMOVSHDUP X, T        \
	VADDSS    T, ACC, ACC \
	VMOVHLPS  X, X, T     \
	VADDSS    T, ACC, ACC \
	VPSHUFD   $0xff, X, T \
	VADDSS    T, ACC, ACC

// ZERO_Z16_Z23 clears the eight accumulators Z16 to Z23.
#define ZERO_Z16_Z23 \
	VPXORD Z16, Z16, Z16 \
	VPXORD Z17, Z17, Z17 \
	VPXORD Z18, Z18, Z18 \
	VPXORD Z19, Z19, Z19 \
	VPXORD Z20, Z20, Z20 \
	VPXORD Z21, Z21, Z21 \
	VPXORD Z22, Z22, Z22 \
	VPXORD Z23, Z23, Z23

// ZERO_Z8_Z15 clears the eight accumulators Z8 to Z15.
#define ZERO_Z8_Z15 \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z9, Z9, Z9 \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15

// ZERO_Z24_Z31 clears the eight accumulators Z24 to Z31.
#define ZERO_Z24_Z31 \
	VPXORD Z24, Z24, Z24 \
	VPXORD Z25, Z25, Z25 \
	VPXORD Z26, Z26, Z26 \
	VPXORD Z27, Z27, Z27 \
	VPXORD Z28, Z28, Z28 \
	VPXORD Z29, Z29, Z29 \
	VPXORD Z30, Z30, Z30 \
	VPXORD Z31, Z31, Z31

// SUM16(Z, Y, X, T) reduces the sixteen lanes of Z as Sum16 does: halves of 8,
// then of 4, then lanes two apart, then the last two.
#define SUM16(Z, Y, X, TY, TX) \
	VEXTRACTF64X4 $1, Z, TY \
	VADDPS        TY, Y, Y  \
	SUM8(Y, X, TX)

// ROWS3(B, S, R1, R2, R3) points R1, R2 and R3 at the three rows after the
// one at B, S bytes apart.
#define ROWS3(B, S, R1, R2, R3) \
	LEAQ (B)(S*1), R1 \
	LEAQ (R1)(S*1), R2 \
	LEAQ (R2)(S*1), R3

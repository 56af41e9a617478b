// Horizontal sums shared by the assembly files of this package, in the
// reduction orders of Sum8 and Sum16 (ggml.go).

// SUM8(Y, X, T) reduces the eight lanes of Y to X's low lane as Sum8 does:
// ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7)). T is clobbered; X is Y's low half.
#define SUM8(Y, X, T) \
	VEXTRACTF128 $1, Y, T \
	VADDPS       T, X, X  \
	VMOVHLPS     X, X, T  \
	VADDPS       T, X, X  \
	VMOVSHDUP    X, T     \
	VADDSS       T, X, X

// SUM16(Z, Y, X, T) reduces the sixteen lanes of Z as Sum16 does: halves of 8,
// then of 4, then lanes two apart, then the last two.
#define SUM16(Z, Y, X, TY, TX) \
	VEXTRACTF64X4 $1, Z, TY \
	VADDPS        TY, Y, Y  \
	SUM8(Y, X, TX)

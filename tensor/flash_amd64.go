//go:build amd64 && !purego

package tensor

//go:noescape
func madF16AVX2(y, x *uint16, v float32, n int)

//go:noescape
func scaleF16AVX2(y *uint16, v float32, n int)

//go:noescape
func madF32AVX2(y, x *float32, v float32, n int)

//go:noescape
func madQ8_0AVX2(y *float32, w *byte, v float32, nb int)

//go:noescape
func tileScoresAVX2(acc, kt, q *float32, hd, stride int)

//go:noescape
func madF16F32AVX2(y *float32, x *uint16, v float32, n int)

// useFlashAsm selects the AVX2 twins of the flash-attention kernels (part
// of useAsm).
func useFlashAsm(on bool) {
	madF16, scaleF16, madF32, madKVQ8_0 = madF16Go, scaleF16Go, madF32Go, madKVQ8_0Go
	tileScores, madF16F32 = tileScoresGo, madF16F32Go
	if on && hasAVX2 {
		madF16, scaleF16, madF32, madKVQ8_0 = madF16Asm, scaleF16Asm, madF32Asm, madKVQ8_0Asm
		tileScores, madF16F32 = tileScoresAsm, madF16F32Asm
	}
}

// madF16Asm is madF16Go with the 8-element groups in AVX2.
func madF16Asm(y, x []uint16, v float32) {
	n := len(y) &^ 7
	if n > 0 {
		x = x[:len(y)]
		madF16AVX2(&y[0], &x[0], v, n)
	}
	if n < len(y) {
		madF16Go(y[n:], x[n:], v)
	}
}

// scaleF16Asm is scaleF16Go with the 8-element groups in AVX2.
func scaleF16Asm(y []uint16, v float32) {
	n := len(y) &^ 7
	if n > 0 {
		scaleF16AVX2(&y[0], v, n)
	}
	if n < len(y) {
		scaleF16Go(y[n:], v)
	}
}

// madF32Asm is madF32Go with the 8-element groups in AVX2.
func madF32Asm(y, x []float32, v float32) {
	n := len(y) &^ 7
	if n > 0 {
		x = x[:len(y)]
		madF32AVX2(&y[0], &x[0], v, n)
	}
	if n < len(y) {
		madF32Go(y[n:], x[n:], v)
	}
}

// madKVQ8_0Asm is madKVQ8_0Go in AVX2.
func madKVQ8_0Asm(y []float32, w []byte, v float32) {
	nb := len(y) / qk
	if nb == 0 {
		return
	}
	_ = w[nb*szQ80-1]
	_ = y[nb*qk-1]
	madQ8_0AVX2(&y[0], &w[0], v, nb)
}

// tileScoresAsm is tileScoresGo in AVX2.
func tileScoresAsm(acc *[64]float32, kt, q []float32, stride int) {
	hd := len(q)
	if hd == 0 {
		*acc = [64]float32{}
		return
	}
	_ = kt[(hd-1)*stride+63]
	tileScoresAVX2(&acc[0], &kt[0], &q[0], hd, stride)
}

// madF16F32Asm is madF16F32Go with the 8-element groups in AVX2.
func madF16F32Asm(y []float32, x []uint16, v float32) {
	n := len(y) &^ 7
	if n > 0 {
		x = x[:len(y)]
		madF16F32AVX2(&y[0], &x[0], v, n)
	}
	if n < len(y) {
		madF16F32Go(y[n:], x[n:], v)
	}
}

package tensor

// F16Tile computes a four-by-four block of tinyBLAS-order F16 dot products
// (each output DotF16GEMM's: sixteen lane sums over k, reduced by Sum16) of
// four F16 rows by four float32 rows holding F16 values, in pieces of k: the
// rows of a paged cache need not be contiguous. Row i of w starts i·ws
// elements after the first, row j of x j·xs after the first; each piece is
// a multiple of 16 values long. The zero value is ready to use; Sums starts
// the next block.
type F16Tile struct {
	acc     [16][16]float32
	started bool
}

// Add accumulates n values (a multiple of 16, at least 16) of the four w
// rows times the four x rows.
func (t *F16Tile) Add(n int, w []uint16, ws int, x []float32, xs int) {
	t.piece(n, w, ws, x, xs, nil)
}

// Sums accumulates the last piece, as Add, and sets out[4j+i] to the dot
// product of w row i with x row j over all the pieces (the four sums of x
// row j are out[4j:4j+4]).
func (t *F16Tile) Sums(n int, w []uint16, ws int, x []float32, xs int, out *[16]float32) {
	t.piece(n, w, ws, x, xs, out)
}

func (t *F16Tile) piece(n int, w []uint16, ws int, x []float32, xs int, out *[16]float32) {
	if n < 16 || n%16 != 0 {
		panic("tensor: F16Tile piece not a positive multiple of 16")
	}
	_, _ = w[3*ws+n-1], x[3*xs+n-1]
	flags := 0
	if t.started {
		flags |= 1
	}
	if out != nil {
		flags |= 2
	}
	f16TileAcc(n, w, ws, x, xs, &t.acc, out, flags)
	t.started = out == nil
}

// f16TileAcc is F16Tile's kernel: with flags&1 it continues from acc, else
// from zero; with flags&2 it reduces into out, else stores acc.
var f16TileAcc = f16TileAccGo

func f16TileAccGo(n int, w []uint16, ws int, x []float32, xs int, acc *[16][16]float32, out *[16]float32, flags int) {
	if flags&1 == 0 {
		*acc = [16][16]float32{}
	}
	for i := range 4 {
		for j := range 4 {
			a := &acc[4*i+j]
			wr, xr := w[i*ws:i*ws+n], x[j*xs:j*xs+n]
			for k := 0; k < n; k += 16 {
				for l := range 16 {
					// exact product of two F16 values: as the kernel's FMA
					a[l] += f16Table[wr[k+l]] * xr[k+l]
				}
			}
		}
	}
	if flags&2 != 0 {
		for i := range 4 {
			for j := range 4 {
				out[4*j+i] = Sum16(&acc[4*i+j])
			}
		}
	}
}

// F16TileRows computes groups four-by-four blocks of F16Tile.Sums in one
// call (a head's key dots for four queries over a run of cache positions):
// block g multiplies the four w rows from row 4g on (rows ws elements
// apart) by the four x rows (xs apart) over n values (a multiple of 16, at
// least 16) and writes the four sums of x row j to out[j·os+4g:][:4].
func F16TileRows(n int, w []uint16, ws, groups int, x []float32, xs int, out []float32, os int) {
	if n < 16 || n%16 != 0 {
		panic("tensor: F16TileRows over a length not a positive multiple of 16")
	}
	if groups <= 0 {
		return
	}
	_, _, _ = w[(4*groups-1)*ws+n-1], x[3*xs+n-1], out[3*os+4*groups-1]
	f16TileRows(n, w, ws, groups, x, xs, out, os)
}

// f16TileRows is F16TileRows's kernel once the bounds are checked.
var f16TileRows = f16TileRowsGo

func f16TileRowsGo(n int, w []uint16, ws, groups int, x []float32, xs int, out []float32, os int) {
	var acc [16][16]float32
	var sums [16]float32
	for g := range groups {
		f16TileAccGo(n, w[4*g*ws:], ws, x, xs, &acc, &sums, 2)
		for j := range 4 {
			copy(out[j*os+4*g:j*os+4*g+4], sums[4*j:4*j+4])
		}
	}
}

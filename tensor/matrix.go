package tensor

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"unsafe"
)

// Matrix is a 2-D weight: Rows rows of Cols elements, row-major, each row
// RowBytes(Cols) bytes of Data.
type Matrix struct {
	Type       Type
	Rows, Cols int
	Data       []byte

	// packed is the copy of whole groups of rows interleaved for the
	// one-row kernels of this CPU (see Pack), or nil.
	packed []byte
	// updates are low-rank updates (LoRA adapters) every product adds
	// (see WithUpdates).
	updates []LowRank
	// rowRelease, when set (ReleaseRows), drops the mapped pages around
	// each row Row reads.
	rowRelease func([]byte) error
}

// Pack builds, when this CPU has kernels that read it (Q4_0, Q8_0, Q4_K and
// Q6_K weights with AVX-512 VNNI), a copy of the matrix's rows interleaved
// in groups of sixteen, which token generation then streams instead of
// Data, and from which the batch kernels build their panels; products give
// the same results bit for bit either way. It returns the bytes of the
// copy (0 when none is made), which has the size of the rows it covers: a
// caller whose Data is a file mapping can drop those pages (products never
// read the covered rows of Data again; Row, the embedding lookup, still
// does). Pack must not run concurrently with products on m; calling it
// again does nothing.
func (m *Matrix) Pack() int {
	n, _ := m.PackReleasing(nil, nil)
	return n
}

// PackedBytes returns the bytes an Arena needs for the copy Pack makes of m
// (0 when Pack makes none on this CPU): a loader sums it over its matrices
// to size the arena it packs them into.
func (m *Matrix) PackedBytes() int {
	return (packedSize(m) + 63) &^ 63
}

// packPart is how many bytes of rows PackReleasing packs before it releases
// them.
const packPart = 1 << 20

// PackReleasing is Pack for a matrix whose Data is a file mapping, the copy
// taken from a (when not nil: see Arena; when a is full, or nil, it is
// allocated on its own). It packs
// the rows a part of about a MiB at a time and calls release (when not nil)
// with each part of Data as soon as the copy holds its rows, so that the
// mapped pages of a matrix and its copy are resident together for one part
// at most, not for the whole matrix (the peak memory of loading a model is
// then about its size, not its size plus its largest matrix). A release
// that drops only the pages wholly inside its argument leaves the pages
// that straddle two parts: the caller releases all of Data afterwards. It
// returns the bytes of the copy and release's first error, after which the
// copy is complete but not every part was released.
func (m *Matrix) PackReleasing(a *Arena, release func(data []byte) error) (int, error) {
	if m.packed != nil {
		return len(m.packed), nil
	}
	p, err := packMatrix(m, a, release)
	m.packed = p
	return len(p), err
}

// NewMatrix checks that t is supported, that cols is a whole number of
// blocks and that data holds exactly rows×RowBytes(cols) bytes, and returns
// the matrix viewing data (no copy).
func NewMatrix(t Type, rows, cols int, data []byte) (*Matrix, error) {
	if !Supported(t) {
		return nil, fmt.Errorf("matrix: tensor type %s is not supported for products", t)
	}
	if rows < 0 || cols < 0 {
		return nil, fmt.Errorf("matrix: negative shape %d×%d", rows, cols)
	}
	rb, err := t.RowBytes(cols)
	if err != nil {
		return nil, fmt.Errorf("matrix %d×%d: %w", rows, cols, err)
	}
	if rows > 0 && rb > 0 && rows > int(^uint(0)>>1)/rb {
		return nil, fmt.Errorf("matrix: %d×%d %s is too large", rows, cols, t)
	}
	if want := rows * rb; len(data) != want {
		return nil, fmt.Errorf("matrix: %d×%d %s needs %d bytes, got %d", rows, cols, t, want, len(data))
	}
	return &Matrix{Type: t, Rows: rows, Cols: cols, Data: data}, nil
}

// rowBytes returns the byte length of one row; m must be valid.
func (m *Matrix) rowBytes() int { return m.Cols / m.Type.BlockSize() * m.Type.TypeSize() }

// Row dequantizes row r into dst[:Cols] (an embedding lookup). It panics when
// r is out of range or dst is shorter than Cols.
func (m *Matrix) Row(r int, dst []float32) {
	if r < 0 || r >= m.Rows {
		panic(fmt.Sprintf("tensor: row %d out of range [0,%d)", r, m.Rows))
	}
	f := dequantizer(m.Type)
	if f == nil {
		panic(fmt.Sprintf("tensor: Row on unsupported type %s", m.Type))
	}
	rb := m.rowBytes()
	(*f)(m.Data[r*rb:(r+1)*rb], dst[:m.Cols])
	if m.rowRelease != nil {
		lo, hi := faultWindow(m.Data, r*rb, (r+1)*rb)
		_ = m.rowRelease(m.Data[lo:hi]) // only the memory in use depends on it
	}
}

// RowRange dequantizes rows [lo, hi) into dst[:(hi-lo)*Cols], as Row does one
// at a time, for a caller that reads many consecutive rows (word vectors, an
// embedding table's nearest neighbours): with ReleaseRows it releases the
// pages around them once, not once per row. It panics when the range is
// out of bounds or dst is too short.
func (m *Matrix) RowRange(lo, hi int, dst []float32) {
	if lo < 0 || hi > m.Rows || lo > hi {
		panic(fmt.Sprintf("tensor: rows [%d,%d) out of range [0,%d)", lo, hi, m.Rows))
	}
	if lo == hi {
		return
	}
	f := dequantizer(m.Type)
	if f == nil {
		panic(fmt.Sprintf("tensor: RowRange on unsupported type %s", m.Type))
	}
	rb := m.rowBytes()
	for r := lo; r < hi; r++ {
		(*f)(m.Data[r*rb:(r+1)*rb], dst[(r-lo)*m.Cols:(r-lo+1)*m.Cols])
	}
	if m.rowRelease != nil {
		a, b := faultWindow(m.Data, lo*rb, hi*rb)
		_ = m.rowRelease(m.Data[a:b])
	}
}

// Gather dequantizes the rows rs[i] into dst[i*Cols:(i+1)*Cols] (the
// embedding lookups of a batch of tokens), as Row does one at a time;
// with ReleaseRows it releases each window of pages the lookups faulted in
// once, after all of them, rather than once per row (a batch's tokens
// often share windows: a prompt of 512 tokens over a 98 MB table touches
// at most 49 of them). It panics when a row is out of range or dst is too
// short.
func (m *Matrix) Gather(rs []int, dst []float32) {
	if len(dst) < len(rs)*m.Cols {
		panic(fmt.Sprintf("tensor: Gather of %d rows into %d values, need %d", len(rs), len(dst), len(rs)*m.Cols))
	}
	f := dequantizer(m.Type)
	if f == nil {
		panic(fmt.Sprintf("tensor: Gather on unsupported type %s", m.Type))
	}
	rb := m.rowBytes()
	for i, r := range rs {
		if r < 0 || r >= m.Rows {
			panic(fmt.Sprintf("tensor: row %d out of range [0,%d)", r, m.Rows))
		}
		(*f)(m.Data[r*rb:(r+1)*rb], dst[i*m.Cols:(i+1)*m.Cols])
	}
	if m.rowRelease == nil || len(rs) == 0 {
		return
	}
	ws := make([][2]int, len(rs))
	for i, r := range rs {
		ws[i][0], ws[i][1] = faultWindow(m.Data, r*rb, (r+1)*rb)
	}
	slices.SortFunc(ws, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	lo, hi := ws[0][0], ws[0][1]
	for _, w := range ws[1:] {
		if w[0] > hi {
			_ = m.rowRelease(m.Data[lo:hi]) // only the memory in use depends on it
			lo = w[0]
		}
		hi = max(hi, w[1])
	}
	_ = m.rowRelease(m.Data[lo:hi])
}

// faultAround is the span, aligned in the address space, that one page
// fault on a file mapping may map when the pages are in the page cache:
// Linux maps fault_around_bytes (64 KiB) of small pages, or a whole large
// folio (up to 2 MiB, the size of a page-middle-directory entry, on kernels
// with large folios in the page cache; measured on 6.18: a 64 KiB window
// left a fifth of the table resident after 400 lookups).
const faultAround = 2 << 20

// faultWindow returns the part [lo, hi) of data covering the faultAround
// windows that hold data[start:end].
func faultWindow(data []byte, start, end int) (lo, hi int) {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	a := (base + uintptr(start)) &^ (faultAround - 1)
	b := (base + uintptr(end) + faultAround - 1) &^ (faultAround - 1)
	lo, hi = 0, len(data)
	if a > base {
		lo = int(a - base)
	}
	if b < base+uintptr(len(data)) {
		hi = int(b - base)
	}
	return lo, hi
}

// ReleaseRows makes Row, once it has read a row, call release with the part
// of Data around it that one page fault may map (see faultAround). It is for
// an embedding table left in a file mapping (read one row per token, never
// multiplied): each lookup would otherwise leave 64 KiB to 2 MiB of the file
// resident, and a few hundred lookups most of the table; with a release that
// drops pages (madvise MADV_DONTNEED) the table stays in the page cache,
// shared and reclaimable, not in the process's memory. Row's result does not
// change. Callers reading many consecutive rows use RowRange, which releases
// once. ReleaseRows must not run concurrently with Row.
func (m *Matrix) ReleaseRows(release func(data []byte) error) { m.rowRelease = release }

// MatVec sets dst[r] = row_r · x for r < w.Rows. len(x) must be w.Cols and
// dst must hold w.Rows values. x is first converted to the weight type's
// vec-dot type (see the package documentation), once for all rows.
func MatVec(dst []float32, w *Matrix, x []float32) {
	MatMul(dst, w, x, 1)
}

// MatMul multiplies n activation rows by the weight rows: x holds n rows of
// w.Cols (row-major) and dst[i*w.Rows+r] = row_r · x_i. Each x_i is converted
// to the vec-dot type once, so MatMul gives exactly the results of n MatVec
// calls.
func MatMul(dst []float32, w *Matrix, x []float32, n int) {
	matMul(dst, w, x, n, false)
	applyUpdates(dst, w, x, n)
}

// maxMulti is the largest number of weights MatVecMulti takes in one go.
const maxMulti = 4

// MatVecMulti computes MatVec(dsts[i], ws[i], x) for every i (at most 4
// weights of one type and column count, such as the query, key and value
// projections): x is converted once and the rows of all the weights are
// split over the worker pool in a single hand-out. The results are those of
// the separate calls. It panics on weights of different types or widths.
func MatVecMulti(dsts [][]float32, ws []*Matrix, x []float32) {
	if len(ws) != len(dsts) || len(ws) > maxMulti {
		panic(fmt.Sprintf("tensor: MatVecMulti with %d weights and %d outputs (at most %d)", len(ws), len(dsts), maxMulti))
	}
	if len(ws) == 0 {
		return
	}
	w0 := ws[0]
	k, ok := kernelFor(w0.Type)
	if !ok {
		panic(fmt.Sprintf("tensor: MatVecMulti on unsupported type %s", w0.Type))
	}
	if len(x) != w0.Cols {
		panic(fmt.Sprintf("tensor: MatVecMulti with %d activation values for rows of %d", len(x), w0.Cols))
	}
	for i, w := range ws {
		if w.Type != w0.Type || w.Cols != w0.Cols {
			panic(fmt.Sprintf("tensor: MatVecMulti weight %d is %s×%d, weight 0 %s×%d", i, w.Type, w.Cols, w0.Type, w0.Cols))
		}
		if len(dsts[i]) < w.Rows {
			panic(fmt.Sprintf("tensor: MatVecMulti dst %d holds %d values, need %d", i, len(dsts[i]), w.Rows))
		}
	}
	xs, _ := k.repr.RowBytes(w0.Cols)
	var buf, gbuf *[]byte
	var xq []byte
	if k.act == nil {
		xq = f32Bytes(x)
	} else {
		buf = getScratch(xs)
		xq = (*buf)[:xs]
		(*k.act)(x, xq)
	}
	var ps [maxMulti]product
	for i, w := range ws {
		p := product{dot: *k.dot, w: w, rb: w.rowBytes(), x: xq, xs: xs, n: 1, dst: dsts[i], rows: w.Rows}
		if k.act != nil && w0.Cols > 0 {
			if i == 0 {
				p.gemv, gbuf = quantGEMV(w, xq)
			} else {
				p.gemv = ps[0].gemv
			}
			if gbuf != nil {
				p.xp = *gbuf
				p.gemv16 = packedGEMV(w)
			}
		}
		p.rowsF = floatRowsFor(w)
		ps[i] = p
	}
	runMulti(ps[:len(ws)])
	if gbuf != nil {
		putScratch(gbuf)
	}
	if buf != nil {
		putScratch(buf)
	}
	for i, w := range ws {
		applyUpdates(dsts[i], w, x, 1)
	}
}

// MatMulMulti computes MatMul(dsts[i], ws[i], x, n) for every i (at most 4
// weights of one type and column count, such as the query, key and value
// projections of the tokens of several sequences decoded together): when
// the weights have packed copies and n is small, x is converted once and
// the rows of all the weights are split over the worker pool in a single
// hand-out, as MatVecMulti does for one row; otherwise the products run one
// after the other. The results are those of the separate calls. It panics
// on weights of different types or widths.
func MatMulMulti(dsts [][]float32, ws []*Matrix, x []float32, n int) {
	if len(ws) != len(dsts) || len(ws) > maxMulti {
		panic(fmt.Sprintf("tensor: MatMulMulti with %d weights and %d outputs (at most %d)", len(ws), len(dsts), maxMulti))
	}
	if len(ws) == 0 {
		return
	}
	if n == 1 {
		MatVecMulti(dsts, ws, x)
		return
	}
	w0 := ws[0]
	k, ok := kernelFor(w0.Type)
	if !ok {
		panic(fmt.Sprintf("tensor: MatMulMulti on unsupported type %s", w0.Type))
	}
	if n < 0 || len(x) != n*w0.Cols {
		panic(fmt.Sprintf("tensor: MatMulMulti with %d activation values for %d rows of %d", len(x), n, w0.Cols))
	}
	fused := k.act != nil && n <= maxBatchN && w0.Cols > 0
	for i, w := range ws {
		if w.Type != w0.Type || w.Cols != w0.Cols {
			panic(fmt.Sprintf("tensor: MatMulMulti weight %d is %s×%d, weight 0 %s×%d", i, w.Type, w.Cols, w0.Type, w0.Cols))
		}
		if len(dsts[i]) < n*w.Rows {
			panic(fmt.Sprintf("tensor: MatMulMulti dst %d holds %d values, need %d", i, len(dsts[i]), n*w.Rows))
		}
		fused = fused && packedGEMVN(w) != nil
	}
	if n == 0 {
		return
	}
	if !fused {
		for i, w := range ws {
			MatMul(dsts[i], w, x, n)
		}
		return
	}
	xs, _ := k.repr.RowBytes(w0.Cols)
	buf := getScratch(n * xs)
	xq := (*buf)[:n*xs]
	quantRows(*k.act, x, xq, w0.Cols, xs, n)
	gbuf, xstride := packGemvRows(w0, xq, xs, n)
	var dot4 dot4Func
	if n >= 4 {
		dot4 = dot4For(w0.Type)
	}
	var ps [maxMulti]product
	for i, w := range ws {
		ps[i] = product{dot: *k.dot, dot4: dot4, w: w, rb: w.rowBytes(), x: xq, xs: xs, n: n, dst: dsts[i], rows: w.Rows,
			gemv16: packedGEMV(w), xp: *gbuf, gemvN: packedGEMVN(w), xstride: xstride}
	}
	runMulti(ps[:len(ws)])
	putScratch(gbuf)
	putScratch(buf)
	for i, w := range ws {
		applyUpdates(dsts[i], w, x, n)
	}
}

// matMul is MatMul; with gemm set it multiplies F32 and F16 weights in the
// order of llama.cpp's batch kernel (see MatMulGEMM) where that applies.
func matMul(dst []float32, w *Matrix, x []float32, n int, gemm bool) {
	k, ok := kernelFor(w.Type)
	if !ok {
		panic(fmt.Sprintf("tensor: MatMul on unsupported type %s", w.Type))
	}
	if n < 0 || len(x) != n*w.Cols {
		panic(fmt.Sprintf("tensor: MatMul with %d activation values for %d rows of %d", len(x), n, w.Cols))
	}
	if len(dst) < n*w.Rows {
		panic(fmt.Sprintf("tensor: MatMul dst holds %d values, need %d", len(dst), n*w.Rows))
	}
	if n == 0 || w.Rows == 0 {
		return
	}
	xs, _ := k.repr.RowBytes(w.Cols) // Cols is a block multiple: checked by NewMatrix
	var buf *[]byte
	var xq []byte
	if k.act == nil {
		xq = f32Bytes(x)
	} else {
		buf = getScratch(n * xs)
		xq = (*buf)[:n*xs]
		quantRows(*k.act, x, xq, w.Cols, xs, n)
	}
	dot := *k.dot
	tiny := false  // tinyBLAS order for F32/F16 weights
	panel := false // llama.cpp's IQ panel GEMM
	if gemm {
		if g := gemmDotFor(w); g != nil {
			dot, tiny = g, true
		} else if g := iqPanelDotFor(w, n); g != nil {
			dot, panel = g, true
		}
	}
	var dot4 dot4Func
	if n >= 4 && !panel {
		dot4 = dot4For(w.Type)
	}
	done := 0
	var gemv gemvFunc
	var gemvN gemvNFunc
	var gbuf *[]byte
	xstride := 0
	if k.act != nil {
		switch {
		case n == 1 && w.Cols > 0:
			gemv, gbuf = quantGEMV(w, xq)
		case n <= maxBatchN && w.Cols > 0 && packedGEMVN(w) != nil:
			// a small batch (sequences decoded together): every
			// activation row over the packed copy at once, each with the
			// one-row kernel's results
			gemvN = packedGEMVN(w)
			gbuf, xstride = packGemvRows(w, xq, xs, n)
		default:
			done = quantGEMM(dst, w, xq, xs, n)
		}
	}
	p := product{
		gemv: gemv,
		dot:  dot,
		dot4: dot4,
		w:    w,
		rb:   w.rowBytes(),
		x:    xq,
		xs:   xs,
		n:    n,
		dst:  dst,
		rows: w.Rows,
	}
	if gbuf != nil {
		p.xp = *gbuf
		p.gemv16 = packedGEMV(w)
		p.gemvN, p.xstride = gemvN, xstride
	}
	if !tiny {
		// F32 and F16 (never tinyBLAS order here: that is MatMulGEMM's)
		p.rowsF = floatRowsFor(w)
	}
	if tiny {
		// tinyBLAS order: whole tiles of four activation rows, then the rest
		if cols := floatGEMM(dst, w, xq, xs, n); cols > 0 {
			p.x, p.n, p.dst = xq[cols*xs:], n-cols, dst[cols*w.Rows:]
			p.dot4 = nil
			if p.n == 0 {
				done = w.Rows
			}
		}
	}
	if done > 0 {
		p.rowsRange(done, w.Rows) // the rows that do not fill a panel
	} else {
		run(p)
	}
	if gbuf != nil {
		putScratch(gbuf)
	}
	if buf != nil {
		putScratch(buf)
	}
}

// quantRowsMin is the smallest batch whose activation rows are converted
// on the worker pool rather than by the caller alone.
const quantRowsMin = 4

// quantRows converts the n activation rows of x (cols values each) with
// act into xq (xs bytes per row), split over the worker pool for batches of
// quantRowsMin rows or more. Each row is converted as on its own.
func quantRows(act quantFunc, x []float32, xq []byte, cols, xs, n int) {
	if n < quantRowsMin {
		for i := range n {
			act(x[i*cols:(i+1)*cols], xq[i*xs:(i+1)*xs])
		}
		return
	}
	Parallel(n, Threads(), func(lo, hi, _ int) {
		for i := lo; i < hi; i++ {
			act(x[i*cols:(i+1)*cols], xq[i*xs:(i+1)*xs])
		}
	})
}

// floatRowsFunc computes rows [lo, hi) of the product of F32 or F16
// weights w with all n activation rows (float32 values, rows xs bytes apart
// in x) into dst[i*rows+r] for activation row i, each output bit for bit
// the per-row dot of MatMul.
type floatRowsFunc func(w *Matrix, x []byte, xs, n, lo, hi int, dst []float32, rows int)

// gemvFunc computes rows [lo, hi) (hi-lo a multiple of 8) of a one-row
// product from the activation packed for it.
type gemvFunc func(w *Matrix, xp []byte, lo, hi int, dst []float32)

// product is one MatVec/MatMul call, split by rows over the workers.
type product struct {
	dot  dotFunc
	dot4 dot4Func // dot for four activation rows at once, or nil
	gemv gemvFunc // kernel for eight rows at once when n is 1, or nil
	// gemv16 is the kernel for sixteen rows of w's packed copy at once
	// when n is 1, or nil; it takes the activation packed for gemv, and
	// its dst starts at row lo (not at row 0 as gemv's).
	gemv16 gemvFunc
	// rowsF, when set, computes the rows of every activation row at once
	// (F32 and F16 weights), each output the per-row dot's
	rowsF floatRowsFunc
	xp    []byte // the activation packed for gemv
	// gemvN, when set (n > 1), computes all n activation rows over the
	// packed copy at once from n records xstride bytes apart in xp.
	gemvN   gemvNFunc
	xstride int
	w       *Matrix
	rb      int // bytes per weight row
	x       []byte
	xs      int // bytes per converted activation row
	n       int
	dst     []float32
	rows    int
}

// rowsRange computes output rows [lo, hi) for every activation row.
func (p *product) rowsRange(lo, hi int) {
	if p.rowsF != nil {
		p.rowsF(p.w, p.x, p.xs, p.n, lo, hi, p.dst, p.rows)
		return
	}
	if end := len(p.w.packed) / p.rb; p.gemv16 != nil && lo < end {
		// every row of the packed copy comes from it (its file pages may
		// be dropped): a range that starts or ends inside a group of
		// sixteen computes the whole group aside
		top := min(hi, end)
		if p.gemvN != nil {
			p.rowsRangeN(lo, top)
			lo = top
		}
		if lo&15 != 0 {
			g := lo &^ 15
			p.partial16(g, lo, min(top, g+16))
			lo = min(top, g+16)
		}
		if m := (top - lo) &^ 15; m > 0 {
			p.gemv16(p.w, p.xp, lo, lo+m, p.dst[lo:])
			lo += m
		}
		if lo < top {
			p.partial16(lo, lo, top)
			lo = top
		}
	}
	if p.gemv != nil {
		if m := (hi - lo) &^ 7; m > 0 {
			p.gemv(p.w, p.xp, lo, lo+m, p.dst)
			lo += m
		}
	}
	cols, data := p.w.Cols, p.w.Data
	for r := lo; r < hi; r++ {
		wr := data[r*p.rb : (r+1)*p.rb]
		i := 0
		if p.dot4 != nil {
			var out [4]float32
			for ; i+4 <= p.n; i += 4 {
				p.dot4(cols, wr, p.x[i*p.xs:], p.xs, &out)
				for k, v := range out {
					p.dst[(i+k)*p.rows+r] = v
				}
			}
		}
		for ; i < p.n; i++ {
			p.dst[i*p.rows+r] = p.dot(cols, wr, p.x[i*p.xs:(i+1)*p.xs])
		}
	}
}

// rowsRangeN computes rows [lo, hi) of the packed copy for all the
// activation rows with gemvN (groups that are cut through computed aside).
func (p *product) rowsRangeN(lo, hi int) {
	if lo&15 != 0 {
		g := lo &^ 15
		p.partial16N(g, lo, min(hi, g+16))
		lo = min(hi, g+16)
	}
	if m := (hi - lo) &^ 15; m > 0 {
		p.gemvN(p.w, p.xp, p.xstride, p.n, lo, lo+m, p.dst[lo:], p.rows)
		lo += m
	}
	if lo < hi {
		p.partial16N(lo, lo, hi)
	}
}

// partial16N is partial16 for all the activation rows.
func (p *product) partial16N(g, a, b int) {
	var tmp [maxBatchN * 16]float32
	p.gemvN(p.w, p.xp, p.xstride, p.n, g, g+16, tmp[:], 16)
	for c := range p.n {
		copy(p.dst[c*p.rows+a:c*p.rows+b], tmp[c*16+a-g:c*16+b-g])
	}
}

// partial16 computes rows [a, b) of the group of sixteen rows starting at
// g of the packed copy: the whole group aside, then the rows wanted.
func (p *product) partial16(g, a, b int) {
	var tmp [16]float32
	p.gemv16(p.w, p.xp, g, g+16, tmp[:])
	copy(p.dst[a:b], tmp[a-g:b-g])
}

// scratch is a free list of activation buffers, so that steady-state calls
// do not allocate (a sync.Pool may drop its items at any GC).
var scratch struct {
	mu   sync.Mutex
	free []*[]byte
}

func getScratch(size int) *[]byte {
	scratch.mu.Lock()
	var b *[]byte
	if n := len(scratch.free); n > 0 {
		b = scratch.free[n-1]
		scratch.free = scratch.free[:n-1]
	}
	scratch.mu.Unlock()
	if b == nil {
		b = new([]byte)
	}
	if cap(*b) < size {
		*b = make([]byte, size)
	}
	return b
}

func putScratch(b *[]byte) {
	scratch.mu.Lock()
	scratch.free = append(scratch.free, b)
	scratch.mu.Unlock()
}

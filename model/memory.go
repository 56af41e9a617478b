package model

import (
	"errors"
	"fmt"
	"math"

	"glassbox/internal/sysmem"
	"glassbox/tensor"
)

// ErrMemory is wrapped by the error NewState returns when the state would
// need more memory than the system has available.
var ErrMemory = errors.New("not enough memory")

// KVCacheBytes returns the size of the key/value cache of n positions with
// elements of type kv: layers × n × (key width + value width) × bytes per element.
func (c *Config) KVCacheBytes(n int, kv tensor.Type) int64 {
	return c.KVCacheBytesTypes(n, kv, kv)
}

// KVCacheBytesTypes returns the size of the key/value cache of n positions
// with keys of type k and values of type v: layers × n × (the bytes of a key
// row + the bytes of a value row), a quantized key row taking its blocks'
// bytes (34 per 32 elements for Q8_0, 18 for Q4_0).
func (c *Config) KVCacheBytesTypes(n int, k, v tensor.Type) int64 {
	return mulSat(int64(c.Layers), int64(n), addSat(rowBytes(k, c.KVDim()), rowBytes(v, c.VDim())))
}

// rowBytes returns the bytes of n elements of type t, rounding a partial
// block up.
func rowBytes(t tensor.Type, n int) int64 {
	bs := int64(t.BlockSize())
	return mulSat((int64(n)+bs-1)/bs, int64(t.TypeSize()))
}

// KVPage returns the step in which the KV cache of a State of opt grows:
// the positions of a page and the bytes of one page of every layer's keys
// and values.
func (c *Config) KVPage(opt StateOptions) (positions int, bytes int64) {
	opt = opt.withDefaults(c)
	positions = opt.pageSize()
	return positions, c.KVCacheBytesTypes(positions, opt.keyType(), opt.KVType)
}

// StateBytes returns the memory a State of opt holds once its cache is
// full: the KV cache (every page, the context rounded up to a whole page)
// and, in total, the cache plus the activation buffers of a batch and the
// attention scratch of every worker thread (traced runs add a little more).
func (m *Model) StateBytes(opt StateOptions) (kvCache, total int64) {
	c := &m.Config
	opt = opt.withDefaults(c)
	kvCache = c.KVCacheBytesTypes(opt.pagedContext(), opt.keyType(), opt.KVType)
	b := int64(opt.Batch)
	// x, xb, xb2, q, k, v, att, hb, hb2 (float32)
	acts := addSat(mulSat(b, 3*int64(c.Dim)+2*int64(c.QDim())+int64(c.KVDim())+int64(c.VDim())+2*int64(c.ffnRows()), 4), c.moeBytes(b))
	// per worker: scores (float32), and for an F16 cache the query and weights (uint16)
	perWorker := mulSat(int64(opt.Context), 4)
	switch {
	case opt.FlashAttn:
		// the query in F16, the value accumulators (F16, F32), one value
		// row in F32 and a tile's scores; the rotated values of a position
		perWorker = addSat(perWorker, int64(2*c.HeadDim+10*c.ValueDim+4*faTileKV))
		if tensor.KVQuantSupported(opt.KVType) {
			perWorker = addSat(perWorker, int64(4*c.VDim())/int64(max(1, tensor.Threads())))
		}
	case opt.KVType == tensor.F16:
		perWorker = addSat(perWorker, mulSat(int64(c.HeadDim)+int64(padKV(opt.Context-1, 0)), 2))
	}
	var keyRot int64
	if tensor.KVQuantSupported(opt.keyType()) {
		// per worker the query rotated (float32) and in Q8_0; once the
		// rotated keys of a position
		perWorker = addSat(perWorker, int64(c.HeadDim/32*34+4*c.HeadDim))
		keyRot = int64(4 * c.KVDim())
	}
	scratch := addSat(mulSat(int64(tensor.Threads()), perWorker), keyRot)
	rope := int64(c.RopeDim) * 4 // cos, sin
	return kvCache, addSat(addSat(kvCache, acts), addSat(scratch, rope))
}

// CheckStateMemory reports, as an error wrapping ErrMemory, whether the state
// of opt would need more memory than the system has available (nil when it
// fits, or when the platform does not say how much memory is available).
func (m *Model) CheckStateMemory(opt StateOptions) error {
	avail, ok := sysmem.Available()
	if !ok {
		return nil
	}
	opt = opt.withDefaults(&m.Config)
	kv, total := m.StateBytes(opt)
	if total <= 0 || uint64(total) <= avail.Bytes {
		return nil
	}
	return fmt.Errorf("%w: a context of %d tokens needs %s (%d bytes: %s of %s KV cache, %s of buffers) but only %s (%d bytes) is available (%s): use a smaller context",
		ErrMemory, opt.Context, formatBytes(total), total, formatBytes(kv), cacheTypes(opt), formatBytes(total-kv),
		formatBytes(int64(min(avail.Bytes, math.MaxInt64))), avail.Bytes, avail.Source)
}

// pagedContext returns the positions the pages of a full cache hold: the
// context rounded up to a whole page (see NewState).
func (opt StateOptions) pagedContext() int {
	page := opt.pageSize()
	if page <= 0 {
		return opt.Context
	}
	return (opt.Context + page - 1) / page * page
}

// pageSize returns the positions of a page of a State of opt: PageSize, at
// most the context rounded up to the pages' multiple; with flash attention,
// which reads its cache as one block, always that whole rounded context.
func (opt StateOptions) pageSize() int {
	ctx := (opt.Context + tensor.PageAlign - 1) / tensor.PageAlign * tensor.PageAlign
	if opt.FlashAttn {
		return ctx
	}
	return min(opt.PageSize, ctx)
}

// withDefaults fills in the defaults NewState applies.
func (opt StateOptions) withDefaults(c *Config) StateOptions {
	if opt.Context <= 0 {
		opt.Context = c.ContextLength
	}
	if opt.Batch <= 0 {
		opt.Batch = 64
	}
	if opt.PageSize == 0 {
		opt.PageSize = DefaultPageSize
	}
	return opt
}

// mulSat multiplies non-negative numbers, saturating at math.MaxInt64.
func mulSat(xs ...int64) int64 {
	p := int64(1)
	for _, x := range xs {
		if x <= 0 {
			return 0
		}
		if p > math.MaxInt64/x {
			return math.MaxInt64
		}
		p *= x
	}
	return p
}

// addSat adds non-negative numbers, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// formatBytes writes n in binary units (1.5 GiB).
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	for f >= unit && i < len(units)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

// cacheTypes names the cache types of opt: "F16", or "Q8_0 K / F16 V".
func cacheTypes(opt StateOptions) string {
	if k := opt.keyType(); k != opt.KVType {
		return fmt.Sprintf("%s K / %s V", k, opt.KVType)
	}
	return opt.KVType.String()
}

package model

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"glassbox/internal/sysmem"
	"glassbox/tensor"
)

// allocatedBytes sums the buffers a State holds.
func allocatedBytes(s *State) int64 {
	n := int(kvAllocated(s))
	for _, b := range [][]float32{s.x, s.xb, s.xb2, s.q, s.k, s.v, s.att, s.hb, s.hb2, s.cos, s.sin} {
		n += 4 * len(b)
	}
	n += 4 * len(s.kr)
	for _, w := range s.ws {
		n += 4*len(w.scores) + 2*(len(w.qh)+len(w.wh)) + len(w.qq) + 4*len(w.qr)
	}
	return int64(n)
}

// kvAllocated sums the pages of a State's KV cache.
func kvAllocated(s *State) int64 {
	n := 0
	for l := range s.cfg.Layers {
		if s.kf != nil {
			for _, pg := range s.kf[l] {
				n += 4 * len(pg)
			}
		}
		if s.vf != nil {
			for _, pg := range s.vf[l] {
				n += 4 * len(pg)
			}
		}
		if s.kh != nil {
			for _, pg := range s.kh[l] {
				n += 2 * len(pg)
			}
		}
		if s.vh != nil {
			for _, pg := range s.vh[l] {
				n += 2 * len(pg)
			}
		}
		if s.kq != nil {
			for _, pg := range s.kq[l] {
				n += len(pg)
			}
		}
	}
	return int64(n)
}

// TestStateBytes checks that StateBytes predicts what NewState allocates.
func TestStateBytes(t *testing.T) {
	m, err := parseLlama2C(tinyLlama2C(true))
	if err != nil {
		t.Fatal(err)
	}
	defer tensor.SetThreads(tensor.Threads())
	for _, kv := range []tensor.Type{tensor.F32, tensor.F16} {
		for _, ctx := range []int{0, 1, 4, 300} {
			for _, batch := range []int{0, 1, 7} {
				for _, threads := range []int{1, 3} {
					tensor.SetThreads(threads)
					opt := StateOptions{Context: ctx, Batch: batch, KVType: kv}
					st, err := m.NewState(opt)
					if err != nil {
						t.Fatal(err)
					}
					kvBytes, total := m.StateBytes(opt)
					// a new state holds no page; a full one every page
					if got := kvAllocated(st); got != 0 {
						t.Errorf("%+v: a new state holds %d bytes of KV cache", opt, got)
					}
					if err := st.Grow(context.Background(), st.Context()); err != nil {
						t.Fatal(err)
					}
					if got := allocatedBytes(st); got != total {
						t.Errorf("%+v, %d threads: StateBytes %d, allocated %d", opt, threads, total, got)
					}
					if wantKV := kvAllocated(st); kvBytes != wantKV || st.HeldBytes() != wantKV {
						t.Errorf("%+v: KV cache %d bytes, allocated %d", opt, kvBytes, wantKV)
					}
				}
			}
		}
	}
}

// TestStateBytesQuantizedKeys checks StateBytes and KVCacheBytesTypes
// against what NewState allocates with Q8_0 and Q4_0 keys: a key row of 128
// elements takes 4 blocks of 34 or 18 bytes.
func TestStateBytesQuantizedKeys(t *testing.T) {
	m := &Model{Config: Config{Dim: 256, HiddenDim: 768, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 64, ValueDim: 64,
		RopeDim: 64, VocabSize: 16, ContextLength: 256}}
	defer tensor.SetThreads(tensor.Threads())
	for _, tc := range []struct {
		k, v  tensor.Type
		kvRow int64 // bytes of one position's keys and values in one layer
	}{
		{tensor.Q8_0, tensor.F16, 4*34 + 128*2},
		{tensor.Q4_0, tensor.F16, 4*18 + 128*2},
		{tensor.Q8_0, tensor.F32, 4*34 + 128*4},
		{tensor.Q4_0, tensor.F32, 4*18 + 128*4},
	} {
		for _, threads := range []int{1, 3} {
			tensor.SetThreads(threads)
			opt := StateOptions{Context: 100, Batch: 5, KVType: tc.v, KeyType: tc.k}
			st, err := m.NewState(opt)
			if err != nil {
				t.Fatal(err)
			}
			if st.KeyType() != tc.k || st.KVType() != tc.v {
				t.Errorf("%+v: state types %s/%s", opt, st.KeyType(), st.KVType())
			}
			kvBytes, total := m.StateBytes(opt)
			// the 100 positions take a page of 128
			if want := 2 * 128 * tc.kvRow; kvBytes != want || m.Config.KVCacheBytesTypes(100, tc.k, tc.v) != 2*100*tc.kvRow {
				t.Errorf("%+v: KV cache %d bytes, want %d", opt, kvBytes, want)
			}
			if err := st.Grow(context.Background(), st.Context()); err != nil {
				t.Fatal(err)
			}
			if got := allocatedBytes(st); got != total {
				t.Errorf("%+v, %d threads: StateBytes %d, allocated %d", opt, threads, total, got)
			}
		}
	}
	// unsupported combinations are refused with a clear error
	for _, tc := range []struct {
		opt  StateOptions
		want string
	}{
		{StateOptions{KVType: tensor.Q8_0}, "needs flash attention"},
		{StateOptions{KVType: tensor.F16, KeyType: tensor.Q4_1}, "want F32, F16, Q8_0 or Q4_0"},
		{StateOptions{KVType: tensor.F32, KeyType: tensor.F16}, "want F32, F16, Q8_0 or Q4_0"},
	} {
		if _, err := m.NewState(tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.opt, err, tc.want)
		}
	}
	m.Config.HeadDim, m.Config.ValueDim = 48, 48
	if _, err := m.NewState(StateOptions{KeyType: tensor.Q8_0}); err == nil || !strings.Contains(err.Error(), "multiple of its block of 32") {
		t.Errorf("head size 48: error %v", err)
	}
}

// TestKVCacheBytes checks the formula on the synthetic 400M shape (12 layers,
// 4 KV heads of 128) and on a width the grouped-query layout changes.
func TestKVCacheBytes(t *testing.T) {
	c400 := Config{Layers: 12, Heads: 12, KVHeads: 4, HeadDim: 128, ValueDim: 128}
	for _, tc := range []struct {
		c    Config
		n    int
		kv   tensor.Type
		want int64
	}{
		{c400, 4194304, tensor.F16, 12 * 4194304 * (512 + 512) * 2},
		{c400, 4194304, tensor.F32, 12 * 4194304 * (512 + 512) * 4},
		{c400, 2048, tensor.F16, 12 * 2048 * 1024 * 2},
		{Config{Layers: 5, Heads: 8, KVHeads: 4, HeadDim: 8, ValueDim: 8}, 512, tensor.F32, 5 * 512 * 64 * 4},
		{Config{Layers: 4096, Heads: 1 << 20, KVHeads: 1 << 20, HeadDim: 1 << 20, ValueDim: 1 << 20}, 1 << 22, tensor.F32, 1<<63 - 1},
	} {
		if got := tc.c.KVCacheBytes(tc.n, tc.kv); got != tc.want {
			t.Errorf("%d layers × %d × %d, %s: %d bytes, want %d", tc.c.Layers, tc.n, tc.c.KVDim(), tc.kv, got, tc.want)
		}
	}
}

// TestNewStateRefusesWhatDoesNotFit checks that a state larger than the
// available memory is refused, without allocating, naming both sizes.
func TestNewStateRefusesWhatDoesNotFit(t *testing.T) {
	m, err := parseLlama2C(tinyLlama2C(true))
	if err != nil {
		t.Fatal(err)
	}
	const avail = 1 << 20
	defer sysmem.Pretend(sysmem.Memory{Bytes: avail, Source: "test"})()

	opt := StateOptions{Context: 1 << 22, KVType: tensor.F16}
	_, need := m.StateBytes(opt)
	_, err = m.NewState(opt)
	if !errors.Is(err, ErrMemory) {
		t.Fatalf("context 1<<22 with 1 MiB available: err %v, want ErrMemory", err)
	}
	for _, want := range []string{strconv.FormatInt(need, 10) + " bytes", strconv.Itoa(avail) + " bytes", "4194304 tokens", "(test)", "smaller context"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := m.NewState(StateOptions{Context: 64, KVType: tensor.F16}); err != nil {
		t.Errorf("a small state was refused: %v", err)
	}
}

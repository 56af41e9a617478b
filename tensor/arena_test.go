package tensor

import (
	"testing"
	"unsafe"
)

// TestArenaAlloc checks how an arena hands out memory: 64-byte aligned
// offsets, disjoint zeroed slices that cannot grow into the next one, its
// start on a huge page when it is large, and a separate allocation once it
// is full.
func TestArenaAlloc(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		asks   []int
		inside []bool // whether each ask is served from the arena
	}{
		{"empty", 0, []int{10}, []bool{false}},
		{"small", 1000, []int{100, 1, 64, 900}, []bool{true, true, true, false}},
		{"exact", 3 * 64, []int{64, 64, 64, 1}, []bool{true, true, true, false}},
		{"huge", 3 * hugePage, []int{hugePage + 5, hugePage, hugePage - 200, 200}, []bool{true, true, true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewArena(tc.size)
			if tc.size >= hugePage && uintptr(unsafe.Pointer(unsafe.SliceData(a.buf)))%hugePage != 0 {
				t.Fatalf("arena of %d bytes starts at %p, not on a %d-byte page", tc.size, unsafe.SliceData(a.buf), hugePage)
			}
			base := uintptr(unsafe.Pointer(unsafe.SliceData(a.buf)))
			end := base + uintptr(cap(a.buf))
			prevEnd := base
			left := a.Left()
			if left != tc.size {
				t.Fatalf("new arena has %d bytes left, want %d", left, tc.size)
			}
			for i, n := range tc.asks {
				b := a.alloc(n)
				if len(b) != n || cap(b) != n {
					t.Fatalf("ask %d: got len %d cap %d, want %d", i, len(b), cap(b), n)
				}
				for j, v := range b {
					if v != 0 {
						t.Fatalf("ask %d: byte %d is %d, want 0", i, j, v)
					}
				}
				for j := range b {
					b[j] = byte(i + 1)
				}
				p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
				in := p >= base && p+uintptr(n) <= end
				if in != tc.inside[i] {
					t.Fatalf("ask %d of %d bytes: inside the arena = %v, want %v", i, n, in, tc.inside[i])
				}
				if !in {
					if a.Left() != left {
						t.Fatalf("ask %d served outside changed Left from %d to %d", i, left, a.Left())
					}
					continue
				}
				if (p-base)%64 != 0 || p < prevEnd {
					t.Fatalf("ask %d at offset %d: want a 64-byte aligned offset at or after %d", i, p-base, prevEnd-base)
				}
				prevEnd = p + uintptr(n)
				left = a.Left()
				if want := int(end - prevEnd); left != want {
					t.Fatalf("after ask %d Left = %d, want %d", i, left, want)
				}
			}
		})
	}
	var nilArena *Arena
	if b := nilArena.alloc(7); len(b) != 7 || nilArena.Left() != 0 {
		t.Fatalf("nil arena: alloc gave %d bytes, Left %d", len(b), nilArena.Left())
	}
}

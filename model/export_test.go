package model

// SetTileAttention switches the tiled batch attention (attendTile) on or
// off for the external tests and returns the previous setting.
func SetTileAttention(on bool) bool {
	old := tileAttention
	tileAttention = on
	return old
}

// StoreKV stores the key k and value v of position p in layer l's cache,
// for the external tests.
func (s *State) StoreKV(l, p int, k, v []float32) { s.storeKV(l, p, k, v) }

// Attend computes the attention of the b tokens at positions pos… of layer
// l over what the cache holds (q: their queries, att: their outputs), for
// the external tests.
func (s *State) Attend(l, pos, b int, q, att []float32) { s.attention(l, pos, b, q, att, nil) }

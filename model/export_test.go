package model

// SetTileAttention switches the tiled batch attention (attendTile) on or
// off for the external tests and returns the previous setting.
func SetTileAttention(on bool) bool {
	old := tileAttention
	tileAttention = on
	return old
}

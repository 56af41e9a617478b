package train

import "math"

// RNG is the package's own deterministic generator (SplitMix64), so that
// training never depends on math/rand's algorithm or global state.
type RNG struct{ state uint64 }

// NewRNG returns a generator for seed and stream: distinct streams of one
// seed are independent sequences (e.g. one per training step). The starting
// state is a hash of both, so that streams are not shifted copies of one
// another (SplitMix64 walks its state in fixed increments).
func NewRNG(seed, stream uint64) *RNG {
	h := mix64(seed ^ 0x6a09e667f3bcc909)
	h = mix64(h ^ mix64(stream+0xbb67ae8584caa73b))
	return &RNG{state: h}
}

// mix64 is SplitMix64's output function, a bijection with full avalanche.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Uint64 returns the next 64 random bits.
func (r *RNG) Uint64() uint64 {
	r.state += 0x9e3779b97f4a7c15
	return mix64(r.state)
}

// Intn returns a uniform integer in [0, n) (n > 0), by rejection.
func (r *RNG) Intn(n int) int {
	if n <= 0 {
		panic("train: RNG.Intn of a non-positive bound")
	}
	bound := uint64(n)
	limit := math.MaxUint64 - math.MaxUint64%bound
	for {
		v := r.Uint64()
		if v < limit {
			return int(v % bound)
		}
	}
}

// Float64 returns a uniform float64 in [0, 1).
func (r *RNG) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// Normal returns a standard normal deviate (Box–Muller, one value per call).
func (r *RNG) Normal() float64 {
	u1 := 1 - r.Float64() // (0, 1]
	u2 := r.Float64()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

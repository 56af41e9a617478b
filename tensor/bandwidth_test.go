package tensor

import "testing"

// BenchmarkMemoryBandwidth streams a 512 MiB buffer (far larger than any
// cache) by summing it as 64-bit words: the MB/s figure is the read bandwidth
// a single thread gets from memory, the ceiling of token generation (which
// reads every weight once per token).
func BenchmarkMemoryBandwidth(b *testing.B) {
	buf := make([]uint64, 64<<20)
	for i := range buf {
		buf[i] = uint64(i)
	}
	b.SetBytes(int64(8 * len(buf)))
	b.ResetTimer()
	var s0, s1, s2, s3 uint64
	for n := 0; n < b.N; n++ {
		for i := 0; i+4 <= len(buf); i += 4 {
			s0 += buf[i]
			s1 += buf[i+1]
			s2 += buf[i+2]
			s3 += buf[i+3]
		}
	}
	if s0+s1+s2+s3 == 1 {
		b.Log("unlikely")
	}
}

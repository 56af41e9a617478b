package bench

import "testing"

func TestSummarize(t *testing.T) {
	rows := []Result{
		{Test: "pp64", Threads: 1, TokensPerS: 100, StdDev: 1, PeakRSS: 10, LoadMS: 5},
		{Test: "tg16", Threads: 1, TokensPerS: 20, StdDev: 2, PeakRSS: 12, LoadMS: 5},
		{Test: "pp64", Threads: 2, TokensPerS: 180, StdDev: 3, PeakRSS: 15, LoadMS: 5},
		{Test: "tg16", Threads: 2, TokensPerS: 30, StdDev: 4, PeakRSS: 14, LoadMS: 5},
	}
	tests := []struct {
		name               string
		rows               []Result
		threads, pp, tg    int
		ppTPS, tgTPS, ttft float64
		peak               int64
	}{
		{"fastest tg wins", rows, 2, 64, 16, 180, 30, 64.0 / 180 * 1000, 15},
		{"one thread count", rows[:2], 1, 64, 16, 100, 20, 640, 12},
		{"pp only", []Result{rows[0], rows[2]}, 2, 64, 0, 180, 0, 64.0 / 180 * 1000, 15},
		{"tg only", []Result{rows[1]}, 1, 0, 16, 0, 20, 0, 12},
		{"nothing", nil, 0, 0, 0, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Summarize(tt.rows, 256)
			if s.Threads != tt.threads || s.PromptTokens != tt.pp || s.GenTokens != tt.tg || s.PromptTPS != tt.ppTPS ||
				s.GenTPS != tt.tgTPS || s.TTFTMS != tt.ttft || s.PeakRSSBytes != tt.peak || s.ContextLength != 256 || len(s.Rows) != len(tt.rows) {
				t.Errorf("Summarize = %+v", s)
			}
		})
	}
}

package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"glassbox"
	"glassbox/choose"
	"glassbox/internal/fixtures"
)

// ramTolerance is how far choose.EstimateRAM may be from a measured peak
// RSS, relative to the measurement: the overhead constant sits between the
// fixtures' measured overheads (19.8–23.7 MiB), and the activation buffers of
// a forward pass, left out of the formula, grow with the model's width.
const ramTolerance = 0.12

// glassboxBinary builds the glassbox command into dir: its peak RSS, not a
// test binary's, is what the estimate models.
func glassboxBinary(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to build glassbox with: %v", err)
	}
	bin := filepath.Join(dir, "glassbox")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// peakRSS runs the glassbox binary with args (which include --verbose) and
// returns its peak resident set size in bytes: the larger of the VmHWM line
// of /proc/PID/status, read every millisecond until the process ends (the
// high-water mark only grows), and the peak the process reports itself. getrusage's
// ru_maxrss cannot be used here: Go starts the child with vfork semantics,
// so the child's maxrss starts at this test process's own peak (the kernel
// keeps the high-water mark of the memory it leaves at exec), and
// /usr/bin/time is not a dependency of the tests.
func peakRSS(t *testing.T, bin string, args ...string) int64 {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GLASSBOX_HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak int64
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		if hwm := vmHWM(status); hwm > peak {
			peak = hwm
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("glassbox %s: %v\n%s", strings.Join(args[:4], " "), err, stderr.String())
			}
			// the child's own report (run --verbose: "peak RSS N MiB", read
			// from its /proc/self/status as it ends) covers the end of the
			// run, which polling misses when the machine is loaded and this
			// process is not scheduled in time
			m := regexp.MustCompile(`peak RSS ([0-9.]+) (KiB|MiB|GiB)`).FindStringSubmatch(stderr.String())
			if m == nil {
				t.Fatalf("glassbox run --verbose printed no peak RSS:\n%s", stderr.String())
			}
			v, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			unit := map[string]float64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m[2]]
			return max(peak, int64(v*unit))
		case <-tick.C:
		}
	}
}

// vmHWM returns the VmHWM (peak resident set size) of a /proc status file in
// bytes, or 0 when it cannot be read.
func vmHWM(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb * 1024
				}
			}
		}
	}
	return 0
}

// fillingPrompt returns a prompt of at most n tokens of model's vocabulary
// (BOS included), as close to n as whole sentences allow: the run fills its
// context, so every KV cache page the estimate counts is touched.
func fillingPrompt(t *testing.T, model string, n int) (string, int) {
	t.Helper()
	tok, err := glassbox.LoadTokenizer(model)
	if err != nil {
		t.Fatal(err)
	}
	const sentence = "Once upon a time there was a cat. "
	count := func(k int) int { return len(tok.EncodeDefault(strings.Repeat(sentence, k))) }
	k := 1
	for count(k*2) <= n {
		k *= 2
	}
	for step := k / 2; step > 0; step /= 2 {
		if count(k+step) <= n {
			k += step
		}
	}
	return strings.Repeat(sentence, k), count(k)
}

// TestRAMEstimateMeasured checks choose.EstimateRAM against the peak RSS of
// the glassbox binary generating with fixture models whose context the
// prompt fills, and with a 400M-parameter synthetic model, where the
// weights dominate (the fixtures test the overhead term; that one the
// weights and KV cache terms).
func TestRAMEstimateMeasured(t *testing.T) {
	type tc struct {
		name, path string
		ctx        int
	}
	var cases []tc
	for _, name := range []string{"stories260K-f32", "random-llama-d256-F16", "random-llama-d256-Q4_K_M", "random-llama-d256-Q8_0", "llama-2-tiny-random"} {
		cases = append(cases, tc{name, fixtures.Path(t, "gguf", name+".gguf"), 512})
	}
	bin := glassboxBinary(t, t.TempDir())
	if testing.Short() {
		t.Log("-short: the 400M synthetic model is skipped")
	} else {
		path := filepath.Join(t.TempDir(), "synthetic-400M-Q4_0.gguf")
		// written by a child process, whose memory is not this test's
		if out, err := exec.Command(bin, "bench", "--synthetic", "400M", "--type", "Q4_0", "-o", path).CombinedOutput(); err != nil {
			t.Fatalf("writing the synthetic model: %v\n%s", err, out)
		}
		cases = append(cases, tc{"synthetic 400M Q4_0", path, 512})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := glassbox.ReadConfig(c.path)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(c.path)
			if err != nil {
				t.Fatal(err)
			}
			est, err := choose.EstimateRAM(choose.Shape{WeightBytes: fi.Size(), Layers: cfg.Layers, KVHeads: cfg.KVHeads, HeadDim: cfg.HeadDim, Vocab: cfg.VocabSize}, c.ctx)
			if err != nil {
				t.Fatal(err)
			}
			prompt, n := fillingPrompt(t, c.path, c.ctx-8)
			got := peakRSS(t, bin, "run", "-m", c.path, "--ctx", fmt.Sprint(c.ctx), "--raw", "--temperature", "0", "-n", "4", "--verbose", prompt)
			diff := float64(est.Total-got) / float64(got)
			t.Logf("%s, ctx %d (prompt %d tokens): estimated %s, measured peak RSS %s (%+.1f%%): %s",
				c.name, c.ctx, n, choose.FormatBytes(est.Total), choose.FormatBytes(got), 100*diff, est.Formula())
			if math.Abs(diff) > ramTolerance {
				t.Errorf("estimate %s is %+.1f%% from the measured %s (tolerance ±%.0f%%)", choose.FormatBytes(est.Total), 100*diff, choose.FormatBytes(got), 100*ramTolerance)
			}
		})
	}
}

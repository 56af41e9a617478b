package main

import (
	"encoding/json"
	"strings"
	"testing"

	"glassbox/internal/fixtures"
)

// smallMeasurements makes glassbox choose measure on small buffers.
func smallMeasurements(t *testing.T) {
	bw, mv := bandwidthBytes, matVecBytes
	bandwidthBytes, matVecBytes = 8<<20, 4<<20
	t.Cleanup(func() { bandwidthBytes, matVecBytes = bw, mv })
}

// TestChooseCmd: a model benchmarked on this machine is a candidate with
// its measured speed and peak RSS beside the catalog's estimated ones, and
// every candidate's decisions are explained, in the table and in JSON.
func TestChooseCmd(t *testing.T) {
	model := fixtures.Path(t, "gguf", "random-llama-d256-Q4_K_M.gguf")
	t.Setenv("GLASSBOX_HOME", t.TempDir())
	smallMeasurements(t)
	if _, _, err := execute(t, newBenchCmd(), "", "-m", model, "-p", "16", "-n", "8", "-r", "1", "-t", "1"); err != nil {
		t.Fatal(err)
	}
	out, _, err := execute(t, newChooseCmd(), "", "--task", "chat", "--max-ram", "8G", "--min-tps", "1", "--ctx", "256", "--license", "permissive")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Job: task chat · RAM ≤ 8.00 GiB · ≥ 1 tokens/s · permissive license · context 256 · catalog models at Q4_K_M",
		"memory read bandwidth", "Q4_K matrix-vector product",
		"Speed estimates are upper bounds", // a 1 MiB model's bench does not calibrate
		"RAM ≈ weights (parameters × bits per weight / 8, or the file's size) + KV cache (2 × layers × ctx × KV heads × head dim × 2 bytes, F16) + overhead (22.0 MiB runtime + 200 bytes × vocabulary)",
		"IN (", "OUT (",
		"(catalog, Q4_K_M) · 1.7B parameters", // SmolLM2 1.7B
		"     ✓ ram: ", "KV cache 48.0 MiB (2 × 24 layers × 256 ctx × 32 KV heads × 64 head dim × 2 bytes)",
		"     pull: glassbox pull hf.co/",
		model + " (on this machine, Q4_K_M) · ", "tokens/s measured", "(bench peak ",
		"     ✗ task: not in the catalog: not known to suit chat",
		"     ✗ license: llama3.2 (Llama 3.2 Community License Agreement) is not permissive",
		"     ✗ runs: architecture gptneox: glassbox runs llama, qwen2, qwen3, ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
	out, _, err = execute(t, newChooseCmd(), "", "--task", "code", "--max-ram", "1G", "--ctx", "512", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep chooseReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if rep.Constraints.Task != "code" || rep.Constraints.MaxRAM != 1<<30 || rep.Constraints.Context != 512 || rep.Constraints.Quant != "Q4_K_M" ||
		rep.Machine.BandwidthBytesPerS <= 0 || rep.Machine.CalibrationRuns != 0 || rep.RAMFormula == "" {
		t.Errorf("--json header: %+v", rep)
	}
	local := 0
	for i, c := range rep.Candidates {
		if c.Rank != i+1 || len(c.Checks) == 0 {
			t.Errorf("%s: rank %d, %d checks", c.Name, c.Rank, len(c.Checks))
		}
		for _, ch := range c.Checks {
			if ch.Why == "" {
				t.Errorf("%s: %s unexplained", c.Name, ch.Constraint)
			}
		}
		if c.Fits && (c.RAM.Total > 1<<30 || c.Pull == "" && c.Origin == "catalog") {
			t.Errorf("%s fits with %d bytes, pull %q", c.Name, c.RAM.Total, c.Pull)
		}
		if c.Origin == "local" {
			local++
			if !c.Speed.Measured || c.MeasuredRAM <= 0 || c.RAM.WeightsHow != "the file's size" {
				t.Errorf("local candidate: %+v", c)
			}
		}
	}
	if local != 1 {
		t.Errorf("%d local candidates, want the benchmarked file", local)
	}
	// a catalog model without layer counts says what its estimate assumes
	out, _, err = execute(t, newChooseCmd(), "", "--task", "fr", "--max-ram", "1G")
	if err != nil {
		t.Fatal(err)
	}
	if want := "KV cache 512.0 MiB (4096 ctx × 128.0 KiB per token) + overhead 72.0 MiB (22.0 MiB runtime + 200 B × 262144 vocabulary) = 2.67 GiB; " +
		"layers/KV heads unknown: KV cache of 128.0 KiB per token assumed (Llama 3.1 8B's); vocabulary unknown: 262144 entries assumed"; !strings.Contains(out, want) {
		t.Errorf("gemma-3-4b-it's assumptions are not stated: want %q in\n%s", want, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-ram", "lots"}, `--max-ram: "lots" is not a memory size`},
		{[]string{"--quant", "Q9"}, `--quant: unknown quantization "Q9"`},
		{[]string{"--license", "mit"}, "--license: choose takes permissive"},
		{[]string{"--ctx", "0"}, "--ctx must be at least 1"},
		{[]string{"--min-tps", "-2"}, "--min-tps must be positive"},
		{[]string{"--task", "poetry"}, `unknown task "poetry"`},
	} {
		if _, _, err := execute(t, newChooseCmd(), "", tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

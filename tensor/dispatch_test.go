package tensor

import (
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// TestNoAsmValue checks which values of NoAsmEnv switch the assembly off.
func TestNoAsmValue(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{{"", false}, {"0", false}, {"1", true}, {"yes", true}, {"true", true}} {
		if got := noAsm(tc.v); got != tc.want {
			t.Errorf("noAsm(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// goKernels reports whether every switchable kernel is its pure-Go twin.
func goKernels() bool {
	same := func(a, b any) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }
	rows, _ := PanelsABt(make([]float32, 1), make([]float32, 1), make([]float32, 1), 1, 1, 1, false)
	return same(dotF32F32, dotF32F32Go) && same(dotQ8_0Q8_0, dotQ8_0Q8_0Go) && same(dotQ4_KQ8_K, dotQ4_KQ8_KGo) &&
		same(siluMul16, siluMul16Go) && !pagedAsm && same(expSub16, expSub16Go) && same(max16, max16Go) && same(scale16, scale16Go) && same(dotF32Vec, dotF32) && same(axpyF32, axpyF32Go) && rows == nil
}

// TestNoAsmEnv runs this test binary again with GLASSBOX_NOASM=1 and checks
// that the child runs the pure-Go kernels and says so through Kernels.
func TestNoAsmEnv(t *testing.T) {
	if os.Getenv("GLASSBOX_NOASM_CHILD") == "1" {
		if !asmOff || !goKernels() || Kernels() != "go" {
			t.Fatalf("with %s=%q: asmOff %v, pure-Go kernels %v, Kernels() %q", NoAsmEnv, os.Getenv(NoAsmEnv), asmOff, goKernels(), Kernels())
		}
		return
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoAsmEnv$", "-test.count=1")
	cmd.Env = append(os.Environ(), NoAsmEnv+"=1", "GLASSBOX_NOASM_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("child with %s=1: %v\n%s", NoAsmEnv, err, out)
	}
	if (Kernels() == "go") != goKernels() {
		t.Errorf("Kernels() = %q, but pure-Go kernels selected: %v", Kernels(), goKernels())
	}
}

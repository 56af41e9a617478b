package tensor

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestLibmGlibc: Expf and Sincosf give glibc's results bit for bit on
// values glibc computed (testdata/glibc_libm.txt), including inputs where
// rounding a float64 result gives another float32.
func TestLibmGlibc(t *testing.T) {
	f, err := os.Open("testdata/glibc_libm.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, naive := 0, 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		var v [4]float32
		fields := strings.Fields(line)
		if len(fields) != 4 {
			t.Fatalf("line %q: want 4 hex fields", line)
		}
		for i, h := range fields {
			b, err := strconv.ParseUint(h, 16, 32)
			if err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			v[i] = math.Float32frombits(uint32(b))
		}
		x := v[0]
		if got := Expf(x); math.Float32bits(got) != math.Float32bits(v[1]) {
			t.Errorf("Expf(%g) = %g, glibc %g", x, got, v[1])
		}
		s, c := Sincosf(x)
		if !sameLibm(s, v[2]) || !sameLibm(c, v[3]) {
			t.Errorf("Sincosf(%g) = %g, %g; glibc %g, %g", x, s, c, v[2], v[3])
		}
		if float32(math.Exp(float64(x))) != v[1] || float32(math.Sin(float64(x))) != v[2] || float32(math.Cos(float64(x))) != v[3] {
			naive++
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 600 || naive < 400 {
		t.Fatalf("%d golden values, %d where rounding float64 results differs: the file is not what it should be", n, naive)
	}
}

// TestExpfTable: the table holds 2^(i/32) (to an ulp here; TestLibmGlibc
// shows the entries are glibc's).
func TestExpfTable(t *testing.T) {
	for i, bits := range expfTab {
		y := math.Float64frombits(bits + uint64(i)<<47)
		want := math.Exp2(float64(i) / expfN)
		if math.Abs(y-want) > 2e-16*want {
			t.Errorf("entry %d: 2^(%d/32) = %v, far from %v", i, i, y, want)
		}
	}
	if expfTab[0] != math.Float64bits(1) {
		t.Errorf("entry 0 = %#x, want the bits of 1", expfTab[0])
	}
}

// sameLibm compares float32 values bit for bit, any NaN equal to any NaN.
func sameLibm(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// TestLogfGlibc: Logf gives glibc's logf bit for bit on values glibc
// computed (testdata/glibc_logf.txt), including inputs where rounding a
// float64 log gives another float32. (Checked over all 2^32 inputs once,
// outside the tests, against the same glibc.)
func TestLogfGlibc(t *testing.T) {
	data, err := os.ReadFile("testdata/glibc_logf.txt")
	if err != nil {
		t.Fatal(err)
	}
	n, naive := 0, 0
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			t.Fatalf("line %q: want 2 hex fields", line)
		}
		var v [2]float32
		for i, h := range fields {
			b, err := strconv.ParseUint(h, 16, 32)
			if err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			v[i] = math.Float32frombits(uint32(b))
		}
		if got := Logf(v[0]); !sameLibm(got, v[1]) {
			t.Errorf("Logf(%g) = %g (%08x), glibc %g (%08x)", v[0], got, math.Float32bits(got), v[1], math.Float32bits(v[1]))
		}
		if !sameLibm(float32(math.Log(float64(v[0]))), v[1]) {
			naive++
		}
		n++
	}
	if n < 400 || naive < 250 {
		t.Fatalf("%d golden values, %d where rounding float64 results differs: the file is not what it should be", n, naive)
	}
}

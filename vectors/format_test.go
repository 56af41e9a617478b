package vectors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// binRow is one binary row: the word, a space, the values and, when nl, "\n".
func binRow(w string, nl bool, xs ...float32) string {
	var b bytes.Buffer
	b.WriteString(w + " ")
	for _, x := range xs {
		binary.Write(&b, binary.LittleEndian, x)
	}
	if nl {
		b.WriteByte('\n')
	}
	return b.String()
}

func TestReadFormats(t *testing.T) {
	tests := []struct {
		name, in string
		words    []string
		data     []float32
	}{
		{"gensim text", "2 3\nroi 0.1 -2.5 1e-05\nreine 1.0 0.0 3.0\n", []string{"roi", "reine"}, []float32{0.1, -2.5, 1e-5, 1, 0, 3}},
		{"C tool text (trailing space)", "2 2\nété 0.500000 1.000000 \nl'homme -1.000000 0.250000 \n", []string{"été", "l'homme"}, []float32{0.5, 1, -1, 0.25}},
		{"CRLF, no final newline", "1 2\r\nx 1 2", []string{"x"}, []float32{1, 2}},
		{"text, blank lines after", "1 1\nx 1\n\n\n", []string{"x"}, []float32{1}},
		{"duplicate keeps the first", "3 1\na 1\nb 2\na 3\n", []string{"a", "b"}, []float32{1, 2}},
		{"empty", "0 5\n", []string{}, []float32{}},
		{"C tool binary", "2 2\n" + binRow("roi", true, 1, 2) + binRow("été", true, -3, 0.5), []string{"roi", "été"}, []float32{1, 2, -3, 0.5}},
		{"gensim binary (no newline)", "2 2\n" + binRow("roi", false, 1, 2) + binRow("été", false, -3, 0.5), []string{"roi", "été"}, []float32{1, 2, -3, 0.5}},
		{"binary whose bytes look like text", "1 1\n" + binRow("a", true, math.Float32frombits(0x20202020)), []string{"a"}, []float32{math.Float32frombits(0x20202020)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Read(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Words) != len(tt.words) || len(v.Data) != len(tt.data) {
				t.Fatalf("got %q %v, want %q %v", v.Words, v.Data, tt.words, tt.data)
			}
			for i := range tt.words {
				if v.Words[i] != tt.words[i] {
					t.Errorf("word %d = %q, want %q", i, v.Words[i], tt.words[i])
				}
			}
			for i := range tt.data {
				if v.Data[i] != tt.data[i] {
					t.Errorf("value %d = %v, want %v", i, v.Data[i], tt.data[i])
				}
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
		opt            ReadOptions
	}{
		{"empty file", "", "empty", ReadOptions{}},
		{"header not numbers", "hello world\n", "expected a word count", ReadOptions{}},
		{"header one number", "3\n", "expected two numbers", ReadOptions{}},
		{"header negative", "-1 3\n", "expected a word count", ReadOptions{}},
		{"zero dim", "1 0\nx\n", "positive dimension", ReadOptions{}},
		{"huge dim", "1 99999999999\nx 1\n", "absurd", ReadOptions{}},
		{"fewer rows (text)", "3 1\na 1\nb 2\n", "ends after 2 words, the header declares 3", ReadOptions{}},
		{"more rows (text)", "1 1\na 1\nb 2\n", "line 3 (word 2): more rows than the 1", ReadOptions{}},
		{"too few numbers", "1 3\na 1 2\n", "line 2 (word 1): \"a\" has 2 numbers, expected 3", ReadOptions{}},
		{"too many numbers", "1 1\na 1 2\n", "more than 1 numbers", ReadOptions{}},
		{"not a number", "1 2\na 1 x\n", "value 2 of \"a\" is \"x\"", ReadOptions{}},
		{"NaN", "1 2\na 1 nan\n", "expected a finite number", ReadOptions{}},
		{"overflow", "1 1\na 1e99\n", "expected a number", ReadOptions{}},
		{"empty line", "2 1\na 1\n\n", "empty line", ReadOptions{}},
		{"empty word", "1 1\n 1\n", "empty word", ReadOptions{}},
		{"invalid UTF-8", "1 1\n\xff\xfe 1\n", "not valid UTF-8", ReadOptions{}},
		{"truncated binary row", "2 2\n" + binRow("a", true, 1, 2) + binRow("b", false, 3)[:5], "word 2: \"b\" is truncated: 3 bytes of vector, expected 8", ReadOptions{}},
		{"fewer rows (binary)", "3 2\n" + binRow("a", true, 1, 2), "ends after 1 words, the header declares 3", ReadOptions{}},
		{"more rows (binary)", "1 2\n" + binRow("a", true, 1, 2) + binRow("b", true, 1, 2), "word 2: more rows", ReadOptions{}},
		{"NaN (binary)", "1 2\n" + binRow("a", true, 1, float32(math.NaN())), "value 2 of \"a\" is NaN", ReadOptions{}},
		{"count beyond the file", "1000000000 100\na 1\n", "more than the", ReadOptions{Size: 16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ReadWith(onlyReader{strings.NewReader(tt.in)}, tt.opt)
			if err == nil {
				t.Fatalf("read %d words, want an error with %q", v.Len(), tt.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("error %v is not a *FormatError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestReadOptions(t *testing.T) {
	v, err := ReadWith(strings.NewReader("3 1\na 1\nb 2\nc x\n"), ReadOptions{Limit: 2})
	if err != nil || v.Len() != 2 {
		t.Fatalf("Limit 2: %v, %v", v, err)
	}
	v, err = ReadWith(strings.NewReader("1 1\na\xff 1\n"), ReadOptions{ReplaceInvalidUTF8: true})
	if err != nil || v.Words[0] != "a\uFFFD" {
		t.Fatalf("ReplaceInvalidUTF8: %v, %v", v, err)
	}
}

// onlyReader hides the type of a reader so that Read cannot know its size.
type onlyReader struct{ io.Reader }

// A header announcing a billion huge rows over a tiny stream of unknown size
// must fail on the data, without allocating what the header claims.
func TestReadHugeHeaderUnknownSize(t *testing.T) {
	for _, in := range []string{"1000000000 1000000\na 1 2\n", "1000000000 1000000000\n" + binRow("a", true, 1, 2)} {
		var before, after runtimeMem
		before.read()
		_, err := Read(onlyReader{strings.NewReader(in)})
		after.read()
		if err == nil {
			t.Fatalf("%q: no error", in[:20])
		}
		if grew := after.total - before.total; grew > 64<<20 {
			t.Errorf("%q: allocated %d MiB", in[:20], grew>>20)
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	words := []string{"roi", "reine", "l'homme", "été"}
	data := []float32{0.1, -2.5, 1e-5, 3.4e38, 0, float32(math.Copysign(0, -1)), 123456789, 1e-45}
	v, err := New(words, 2, data)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, bin := range []bool{false, true} {
		path := filepath.Join(dir, "v")
		if err := v.WriteFile(path, bin); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range data {
			if math.Float32bits(got.Data[i]) != math.Float32bits(data[i]) {
				t.Errorf("binary=%v: value %d = %v, want %v", bin, i, got.Data[i], data[i])
			}
		}
	}
	var b bytes.Buffer
	if err := v.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	// numpy's repr of each float32, as gensim writes them.
	want := "4 2\nroi 0.1 -2.5\nreine 1e-05 3.4e+38\nl'homme 0.0 -0.0\nété 123456790.0 1e-45\n"
	if b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	v.WriteBinary(&b)
	if !strings.HasPrefix(b.String(), "4 2\n"+binRow("roi", true, 0.1, -2.5)) {
		t.Errorf("binary starts %q", b.String()[:20])
	}
	bad, _ := New([]string{"a b"}, 1, []float32{1})
	if err := bad.WriteText(io.Discard); err == nil {
		t.Error("a word with a space was written")
	}
}

func TestNumpyFloat32(t *testing.T) {
	for _, tt := range []struct {
		x    float32
		want string
	}{
		{0.1, "0.1"}, {1e-5, "1e-05"}, {1.2345e-7, "1.2345e-07"}, {100, "100.0"}, {1e16, "1e+16"},
		{1.5e17, "1.5e+17"}, {0.0001, "1e-04"}, {0.00012345, "0.00012345"}, {1e15, "1000000000000000.0"},
		{float32(math.NaN()), "nan"}, {float32(math.Inf(1)), "inf"},
	} {
		if got := string(appendNumpyFloat32(nil, tt.x)); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.x, got, tt.want)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte("2 3\nroi 0.1 -2.5 1e-05\nreine 1.0 0.0 3.0\n"))
	f.Add([]byte("2 2\n" + binRow("roi", true, 1, 2) + binRow("été", false, -3, 0.5)))
	f.Add([]byte("1 100000000\nx 1\n"))
	f.Add([]byte("3 1\na 1\na 2\n"))
	if b, err := os.ReadFile("testdata/gensim.bin"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := Read(onlyReader{bytes.NewReader(in)})
		if err != nil {
			if v != nil {
				t.Fatal("vectors and an error")
			}
			return
		}
		if len(v.Data) != v.Len()*v.Dim {
			t.Fatalf("%d words of dim %d but %d values", v.Len(), v.Dim, len(v.Data))
		}
		// What was read writes and reads back the same.
		for _, bin := range []bool{false, true} {
			var b bytes.Buffer
			format := Text
			if bin {
				format = Binary
				err = v.WriteBinary(&b)
			} else {
				err = v.WriteText(&b)
			}
			if err != nil {
				return // words with spaces or newlines cannot be written
			}
			w, err := ReadWith(&b, ReadOptions{Format: format})
			if err != nil {
				t.Fatalf("binary=%v: reading back: %v", bin, err)
			}
			if w.Len() != v.Len() {
				t.Fatalf("binary=%v: %d words back, want %d", bin, w.Len(), v.Len())
			}
			for i := range v.Data {
				if math.Float32bits(w.Data[i]) != math.Float32bits(v.Data[i]) {
					t.Fatalf("binary=%v: value %d back %v, want %v", bin, i, w.Data[i], v.Data[i])
				}
			}
		}
	})
}

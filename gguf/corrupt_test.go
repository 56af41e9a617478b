package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox/tensor"
)

// raw assembles GGUF bytes by hand, valid or not.
type raw []byte

func (r raw) u8(v uint8) raw   { return append(r, v) }
func (r raw) u32(v uint32) raw { return binary.LittleEndian.AppendUint32(r, v) }
func (r raw) u64(v uint64) raw { return binary.LittleEndian.AppendUint64(r, v) }
func (r raw) str(s string) raw { return append(r.u64(uint64(len(s))), s...) }

// header starts a version-3 file with the given counts.
func header(nTensors, nKV uint64) raw {
	return raw("GGUF").u32(3).u64(nTensors).u64(nKV)
}

// tensorInfo appends a tensor description.
func (r raw) tensorInfo(name string, typ tensor.Type, offset uint64, dims ...uint64) raw {
	r = r.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		r = r.u64(d)
	}
	return r.u32(uint32(typ)).u64(offset)
}

// padTo appends zeros up to a multiple of n, then extra zero bytes.
func (r raw) padTo(n int, extra int) raw {
	for len(r)%n != 0 {
		r = append(r, 0)
	}
	return append(r, make([]byte, extra)...)
}

func TestCorruptFiles(t *testing.T) {
	nested := header(0, 1).str("deep").u32(uint32(TypeArray))
	for range MaxArrayDepth {
		nested = nested.u32(uint32(TypeArray)).u64(1)
	}
	nested = nested.u32(uint32(TypeUint8)).u64(0)

	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "file truncated reading the magic"},
		{"bad magic", raw("GGML").u32(3).u64(0).u64(0), `bad magic "GGML"`},
		{"version 1", raw("GGUF").u32(1).u64(0).u64(0), "version 1 is no longer supported"},
		{"version 4", raw("GGUF").u32(4).u64(0).u64(0), "unsupported GGUF version 4"},
		{"version 0", raw("GGUF").u32(0).u64(0).u64(0), "big-endian"},
		{"big-endian", raw("GGUF").u32(0x03000000).u64(0).u64(0), "big-endian"},
		{"truncated counts", raw("GGUF").u32(3).u64(0), "file truncated reading the metadata count"},
		{"huge tensor count", header(1<<60, 0), "tensor count 1152921504606846976 exceeds what the 8 bytes left"},
		{"huge kv count", header(0, 1<<60), "metadata count 1152921504606846976 exceeds what the 0 bytes left"},
		{"counts together", header(1, 3).str("k").u32(uint32(TypeUint8)).u8(1).padTo(1, 40), "cannot fit"},
		{"huge key", header(0, 1).u64(1<<40).padTo(1, 20), "kv 0: key length 1099511627776 exceeds the 20 bytes left"},
		{"huge string", header(0, 1).str("general.name").u32(uint32(TypeString)).u64(1<<40).padTo(1, 120),
			`kv 0 "general.name": string length 1099511627776 exceeds the 120 bytes left in the file`},
		{"unknown value type", header(0, 1).str("k").u32(13).u64(0), `kv 0 "k": unknown value type 13`},
		{"truncated value", header(0, 1).str("k").u32(uint32(TypeUint64)).u32(0), `kv 0 "k": file truncated reading the uint64 value: need 8 bytes, 4 left`},
		{"unknown element type", header(0, 1).str("k").u32(uint32(TypeArray)).u32(99).u64(0), `kv 0 "k": unknown array element type 99`},
		{"huge array", header(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeUint32)).u64(1 << 62).u32(0),
			`kv 0 "k": array length 4611686018427387904 exceeds what the 4 bytes left`},
		{"huge string array", header(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(3).str("a").u64(1<<50).padTo(1, 10),
			`kv 0 "k": element 1: string length 1125899906842624 exceeds the 10 bytes left`},
		{"deep nesting", nested, "arrays nested more than 8 deep"},
		{"bad bool", header(0, 1).str("k").u32(uint32(TypeBool)).u8(2), `kv 0 "k": bool value 2 is neither 0 nor 1`},
		{"bad bool in array", header(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeBool)).u64(2).u8(1).u8(7),
			`kv 0 "k": element 1: bool value 7`},
		{"duplicate key", header(0, 2).str("k").u32(uint32(TypeUint8)).u8(1).str("k").u32(uint32(TypeUint8)).u8(2),
			`kv 1: duplicate key "k" (first defined by kv 0)`},
		{"alignment type", header(0, 1).str(AlignmentKey).u32(uint32(TypeUint64)).u64(32), "general.alignment has type uint64, expected uint32"},
		{"alignment zero", header(0, 1).str(AlignmentKey).u32(uint32(TypeUint32)).u32(0), "general.alignment is 0, expected a non-zero power of two"},
		{"alignment 48", header(0, 1).str(AlignmentKey).u32(uint32(TypeUint32)).u32(48), "general.alignment is 48, expected a non-zero power of two"},
		{"huge tensor name", header(1, 0).u64(1<<40).padTo(1, 30), "tensor 0: tensor name length 1099511627776 exceeds"},
		{"no dims", header(1, 0).tensorInfo("t", tensor.F32, 0).padTo(1, 8), `tensor 0 "t": 0 dimensions, expected 1 to 4`},
		{"five dims", header(1, 0).tensorInfo("t", tensor.F32, 0, 1, 1, 1, 1, 1), `tensor 0 "t": 5 dimensions, expected 1 to 4`},
		{"unknown tensor type", header(1, 0).tensorInfo("t", tensor.Type(99), 0, 4), `tensor 0 "t": unknown tensor type 99`},
		{"dims overflow", header(1, 0).tensorInfo("t", tensor.F32, 0, 1<<32, 1<<32), "element count overflows int64"},
		{"negative dim", header(1, 0).tensorInfo("t", tensor.F32, 0, math.MaxUint64), "element count overflows int64"},
		{"bytes overflow", header(1, 0).tensorInfo("t", tensor.F64, 0, 1<<31, 1<<31), "overflow int64"},
		{"partial block", header(1, 0).tensorInfo("t", tensor.Q4_0, 0, 33), "row length 33 is not a multiple of the Q4_0 block size 32"},
		{"truncated tensor info", header(1, 0).str("t").u32(4).u64(4).u64(4).u64(4), `tensor 0 "t": file truncated reading the dimension`},
		{"duplicate tensor", header(2, 0).tensorInfo("t", tensor.F32, 0, 1).tensorInfo("t", tensor.F32, 32, 1).padTo(32, 64),
			`tensor 1: duplicate tensor name "t" (first defined by tensor 0)`},
		{"misaligned offset", header(1, 0).tensorInfo("t", tensor.F32, 4, 1).padTo(32, 64),
			`tensor 0 "t": data offset 4 is not a multiple of the alignment 32`},
		{"offset out of range", header(1, 0).tensorInfo("t", tensor.F32, 64, 8).padTo(32, 64),
			`tensor 0 "t": data [64, 64+32) lies beyond the end of the 64-byte data section`},
		{"huge offset", header(1, 0).tensorInfo("t", tensor.F32, 1<<63, 8).padTo(32, 64), "lies beyond the end"},
		{"truncated data", header(1, 0).tensorInfo("t", tensor.F32, 0, 8).padTo(32, 31), "data [0, 0+32) lies beyond the end of the 31-byte data section"},
		{"no data section", header(1, 0).tensorInfo("t", tensor.F32, 0, 8), "lies beyond the end of the 0-byte data section"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.data)
			if err == nil {
				t.Fatalf("parsed without error: %d kvs, %d tensors", len(f.KV), len(f.Tensors))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tt.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Offset < 0 || fe.Offset > int64(len(tt.data)) {
				t.Errorf("error %v is not a FormatError with an offset in the file", err)
			}
		})
	}
}

// TestValidEdgeCases checks that unusual but valid files parse.
func TestValidEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty file", header(0, 0)},
		{"version 2", raw("GGUF").u32(2).u64(0).u64(0)},
		{"empty tensor at end", header(1, 0).tensorInfo("t", tensor.F32, 0, 0, 5)},
		{"alignment 1", header(1, 1).str(AlignmentKey).u32(uint32(TypeUint32)).u32(1).tensorInfo("t", tensor.I8, 3, 2).u8(0).u8(0).u8(0).u8(9).u8(9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			for i := range f.Tensors {
				if _, err := f.TensorData(&f.Tensors[i]); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestEveryPrefixFails truncates a writer-made file at every length: each
// prefix must fail with an error, never panic nor succeed.
func TestEveryPrefixFails(t *testing.T) {
	data := buildTestFile(t, 0)
	if _, err := Parse(data); err != nil {
		t.Fatal(err)
	}
	for n := range len(data) {
		if _, err := Parse(data[:n:n]); err == nil {
			t.Fatalf("prefix of %d of %d bytes parsed without error", n, len(data))
		}
	}
}

// TestEveryByteFlip changes each header byte in turn: parsing must not panic,
// and whatever parses must re-write and re-parse.
func TestEveryByteFlip(t *testing.T) {
	data := buildTestFile(t, 0)
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	mut := make([]byte, len(data))
	for i := range int(f.DataOffset) {
		for _, x := range []byte{0xff, 0x01, 0x80} {
			copy(mut, data)
			mut[i] ^= x
			checkParseRoundTrip(t, mut)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.gguf")); err == nil || !strings.Contains(err.Error(), "missing.gguf") {
		t.Errorf("Open of a missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.gguf")
	if err := os.WriteFile(bad, header(0, 1).str("k").u32(42).u64(0), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(bad)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Path != bad || !strings.Contains(err.Error(), bad+`: kv 0 "k": unknown value type 42`) {
		t.Errorf("Open of a corrupt file: %v", err)
	}
}

// TestWriteFileInPlace re-writes a file over itself while it is mapped.
func TestWriteFileInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	data := buildTestFile(t, 64)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("in-place WriteFile changed the file (first difference at byte %d)", firstDiff(got, data))
	}
	// The mapping of the old file stays readable.
	if _, err := f.TensorData(&f.Tensors[len(f.Tensors)-1]); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("WriteFile left %d files behind", len(entries)-1)
	}
}

package vectors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The word2vec formats, as the original C tool and gensim's
// save_word2vec_format / load_word2vec_format use them:
//
//   - both start with a header line "COUNT DIM\n";
//   - a text row is the word, a space, DIM decimal numbers separated by single
//     spaces and "\n" (the C tool leaves a space before the newline, gensim
//     does not; both are read);
//   - a binary row is the word, a space and DIM little-endian float32 values;
//     the C tool ends the row with "\n", gensim 4 does not, and readers skip
//     newlines at the start of a word, so both are read.
//
// Read tells the two apart by content. The rules on hostile or damaged files
// are in ReadOptions and Read.

// maxWordBytes bounds a word in a file: a longer "word" means the file is not
// in the format (the C tool keeps 50 bytes, gensim has no limit).
const maxWordBytes = 1 << 16

// maxHeaderBytes bounds the header line.
const maxHeaderBytes = 256

// readChunk is how many bytes of vector data are read at a time, so that a
// header announcing huge rows never makes Read allocate more than the file
// holds.
const readChunk = 1 << 16

// ReadOptions change how Read treats a file.
type ReadOptions struct {
	// Limit reads only the first Limit words (gensim's limit); the rest of
	// the file is not read. 0 reads them all.
	Limit int
	// ReplaceInvalidUTF8 replaces bytes that are not UTF-8 in words with
	// U+FFFD instead of failing (gensim's unicode_errors="replace"; the C
	// tool cuts words at 50 bytes, sometimes inside a character).
	ReplaceInvalidUTF8 bool
	// Format is the format to read; Auto (the zero value) tells text from
	// binary by content.
	Format Format
	// Size is the number of bytes left in the input when known (ReadFile sets
	// it); Read then refuses at once a header announcing more than that can
	// hold. 0 means unknown: memory still grows only with the data read.
	Size int64
}

// Format is a word2vec file format.
type Format int

// The word2vec formats.
const (
	// Auto tells the formats apart by content: text when the first row is a
	// word and DIM numbers and every line Read peeks at (64 KiB) is printable
	// UTF-8, binary otherwise. Only crafted files whose float32 bytes all
	// happen to spell numbers can fool it; name the format for those.
	Auto Format = iota
	// Text is the text format.
	Text
	// Binary is the binary format.
	Binary
)

// FormatError is a file that is not in the word2vec format as expected: Row is
// the 1-based word row (0 for the header) and Line the 1-based line of a text
// file (0 for a binary file).
type FormatError struct {
	Row, Line int
	Msg       string
}

func (e *FormatError) Error() string {
	switch {
	case e.Row == 0:
		return "word2vec header: " + e.Msg
	case e.Line > 0:
		return fmt.Sprintf("word2vec line %d (word %d): %s", e.Line, e.Row, e.Msg)
	default:
		return fmt.Sprintf("word2vec word %d: %s", e.Row, e.Msg)
	}
}

// ReadFile reads a word2vec file in either format (see Read).
func ReadFile(path string) (*Vectors, error) {
	return ReadFileWith(path, ReadOptions{})
}

// ReadFileWith is ReadFile with options; the file's size bounds what the
// header may announce.
func ReadFileWith(path string, opt ReadOptions) (*Vectors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && opt.Size == 0 {
		opt.Size = st.Size()
	}
	v, err := ReadWith(f, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// Read reads word vectors in the word2vec text or binary format, telling them
// apart by content (a text file's first row is the word and DIM numbers).
//
// Damaged and hostile files give a *FormatError naming the row and what was
// expected: a header that is not two numbers, fewer rows than the header
// declares, more rows (non-blank content after them) unless Limit is set, a
// row with the wrong count of numbers, a truncated binary row, a number that
// does not parse, NaN or infinite values (they would make every cosine NaN),
// empty words and words that are not UTF-8 (unless ReplaceInvalidUTF8). A word
// that appears again keeps its first vector and later rows are skipped, as
// gensim does, so a file loads to the same vocabulary in both. Memory grows
// with the data actually read, never with the counts the header claims.
func Read(r io.Reader) (*Vectors, error) { return ReadWith(r, ReadOptions{}) }

// ReadWith is Read with options.
func ReadWith(r io.Reader, opt ReadOptions) (*Vectors, error) {
	if opt.Size == 0 {
		switch s := r.(type) {
		case *bytes.Reader:
			opt.Size = int64(s.Len())
		case *strings.Reader:
			opt.Size = int64(s.Len())
		}
	}
	br := bufio.NewReaderSize(r, readChunk)
	header, err := readLine(br, maxHeaderBytes)
	if err != nil {
		if err == io.EOF {
			return nil, &FormatError{Msg: "the file is empty, expected a header line \"COUNT DIM\""}
		}
		if errors.Is(err, errLongLine) {
			return nil, &FormatError{Msg: "the first line is not a header \"COUNT DIM\""}
		}
		return nil, err
	}
	fields := strings.Fields(string(header))
	if len(fields) != 2 {
		return nil, &FormatError{Msg: fmt.Sprintf("%q: expected two numbers \"COUNT DIM\"", clip(string(header)))}
	}
	count, err1 := strconv.ParseInt(fields[0], 10, 64)
	dim, err2 := strconv.ParseInt(fields[1], 10, 64)
	if err1 != nil || err2 != nil || count < 0 || dim <= 0 {
		return nil, &FormatError{Msg: fmt.Sprintf("%q: expected a word count (0 or more) and a positive dimension", clip(string(header)))}
	}
	if dim > math.MaxInt32 {
		return nil, &FormatError{Msg: fmt.Sprintf("dimension %d is absurd (more than %d)", dim, math.MaxInt32)}
	}
	want := count
	if opt.Limit > 0 && int64(opt.Limit) < want {
		want = int64(opt.Limit)
	}
	rd := &reader{br: br, opt: opt, dim: int(dim), declared: count, want: want}
	rest := opt.Size - int64(len(header)) - 1
	binaryFile := opt.Format == Binary || opt.Format == Auto && detectBinary(br, int(dim))
	if opt.Size > 0 && want > 0 {
		// Every row holds at least two bytes per value in text ("0 ") and four
		// in binary, plus a word and a space.
		per := 2*dim + 1
		if binaryFile {
			per = 4*dim + 2
		}
		if want > rest/per+1 {
			return nil, &FormatError{Msg: fmt.Sprintf("declares %d words of dimension %d, more than the %d bytes left in the file can hold", count, dim, rest)}
		}
		rd.data = make([]float32, 0, want*dim)
		rd.words = make([]string, 0, want)
	}
	if binaryFile {
		err = rd.readBinary()
	} else {
		err = rd.readText()
	}
	if err != nil {
		return nil, err
	}
	return New(rd.words, rd.dim, rd.data)
}

// detectBinary peeks at the first row: a text row is a word followed by DIM
// decimal numbers on one line; anything else is taken as binary.
func detectBinary(br *bufio.Reader, dim int) bool {
	peek, _ := br.Peek(readChunk)
	peek = bytes.TrimLeft(peek, "\n")
	sp := bytes.IndexByte(peek, ' ')
	if sp < 0 {
		// No word yet: treat as text so that the error speaks of lines.
		return false
	}
	nl := bytes.IndexByte(peek, '\n')
	if nl >= 0 && nl < sp {
		return false // a newline before the first space: a text line
	}
	var line []byte
	if nl < 0 {
		line = peek[sp+1:]
	} else {
		line = peek[sp+1 : nl]
	}
	if !printable(line) {
		return true
	}
	// Printable text: a text row if it holds DIM numbers, else binary if a
	// newline or the end of the file follows the word and 4×DIM bytes, else
	// text (so that the error speaks of lines and numbers).
	n := 0
	for _, f := range bytes.Fields(line) {
		if _, err := strconv.ParseFloat(string(f), 32); err != nil && !errors.Is(err, strconv.ErrRange) {
			n = -1
			break
		}
		n++
	}
	if n == dim {
		// Text, unless a later line in view is not printable text.
		rest := peek[sp+1:]
		for {
			nl := bytes.IndexByte(rest, '\n')
			if nl < 0 {
				return false
			}
			rest = rest[nl+1:]
			next := rest
			if nl := bytes.IndexByte(next, '\n'); nl >= 0 {
				next = next[:nl]
			} else if len(peek) == readChunk {
				return false // a partial line: judged on what is complete
			}
			if !printable(next) {
				return true
			}
		}
	}
	if end := sp + 1 + 4*dim; dim <= readChunk/4 && end <= len(peek) {
		if end == len(peek) {
			return n < 0 && len(peek) < readChunk
		}
		return peek[end] == '\n'
	}
	return false
}

// printable says whether b is UTF-8 without control characters other than
// tabs and carriage returns.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < ' ' && c != '\t' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

var errLongLine = errors.New("line too long")

// readLine returns the next line without its "\n" (and "\r"); io.EOF only
// when nothing is left.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if max > 0 && len(line) > max {
			return nil, errLongLine
		}
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(line) > 0 {
			break
		}
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte{'\n'})
	return bytes.TrimSuffix(line, []byte{'\r'}), nil
}

type reader struct {
	br             *bufio.Reader
	opt            ReadOptions
	dim            int
	declared, want int64
	words          []string
	data           []float32
	seen           map[string]bool
	row            int // rows read, duplicates included
}

// word checks a word read from row r and says whether to keep it.
func (rd *reader) word(raw []byte, line int) (string, bool, error) {
	if len(raw) == 0 {
		return "", false, &FormatError{Row: rd.row, Line: line, Msg: "empty word, expected a word then its vector"}
	}
	if !utf8.Valid(raw) {
		if !rd.opt.ReplaceInvalidUTF8 {
			return "", false, &FormatError{Row: rd.row, Line: line, Msg: fmt.Sprintf("word %q is not valid UTF-8 (ReplaceInvalidUTF8 replaces such bytes)", clip(string(raw)))}
		}
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
	}
	w := string(raw)
	if rd.seen == nil {
		rd.seen = map[string]bool{}
	}
	if rd.seen[w] {
		return w, false, nil
	}
	rd.seen[w] = true
	return w, true, nil
}

func (rd *reader) checkValue(x float32, k int, w string, line int) error {
	if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
		return &FormatError{Row: rd.row, Line: line, Msg: fmt.Sprintf("value %d of %q is %v, expected a finite number", k+1, clip(w), x)}
	}
	return nil
}

func (rd *reader) readText() error {
	line := 1
	for int64(rd.row) < rd.want {
		b, err := readLine(rd.br, 0)
		line++
		if err == io.EOF {
			return &FormatError{Row: rd.row + 1, Line: line, Msg: fmt.Sprintf("the file ends after %d words, the header declares %d", rd.row, rd.declared)}
		}
		if err != nil {
			return err
		}
		rd.row++
		b = bytes.TrimRight(b, " \t\r")
		sp := bytes.IndexByte(b, ' ') // the word ends at the first space, as gensim reads it
		if sp < 0 {
			if len(b) == 0 {
				return &FormatError{Row: rd.row, Line: line, Msg: fmt.Sprintf("empty line, expected a word and %d numbers", rd.dim)}
			}
			return &FormatError{Row: rd.row, Line: line, Msg: fmt.Sprintf("%q has no numbers, expected a word and %d numbers", clip(string(b)), rd.dim)}
		}
		w, keep, err := rd.word(b[:sp], line)
		if err != nil {
			return err
		}
		start := len(rd.data)
		k := 0
		for f := range bytes.FieldsSeq(b[sp+1:]) {
			if k == rd.dim {
				return &FormatError{Row: rd.row, Line: line, Msg: fmt.Sprintf("%q has more than %d numbers", clip(w), rd.dim)}
			}
			x, err := strconv.ParseFloat(string(f), 32)
			if err != nil {
				return &FormatError{Row: rd.row, Line: line, Msg: fmt.Sprintf("value %d of %q is %q, expected a number", k+1, clip(w), clip(string(f)))}
			}
			if err := rd.checkValue(float32(x), k, w, line); err != nil {
				return err
			}
			if keep {
				rd.data = append(rd.data, float32(x))
			}
			k++
		}
		if k != rd.dim {
			rd.data = rd.data[:start]
			return &FormatError{Row: rd.row, Line: line, Msg: fmt.Sprintf("%q has %d numbers, expected %d", clip(w), k, rd.dim)}
		}
		if keep {
			rd.words = append(rd.words, w)
		}
	}
	if rd.opt.Limit > 0 {
		return nil
	}
	for {
		b, err := readLine(rd.br, 0)
		line++
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(b)) > 0 {
			return &FormatError{Row: rd.row + 1, Line: line, Msg: fmt.Sprintf("more rows than the %d the header declares", rd.declared)}
		}
	}
}

func (rd *reader) readBinary() error {
	buf := make([]byte, 0, min(4*rd.dim, readChunk))
	for int64(rd.row) < rd.want {
		rd.row++
		// The word: bytes up to a space, newlines before it skipped.
		var raw []byte
		for {
			c, err := rd.br.ReadByte()
			if err == io.EOF {
				if len(raw) == 0 {
					return &FormatError{Row: rd.row, Msg: fmt.Sprintf("the file ends after %d words, the header declares %d", rd.row-1, rd.declared)}
				}
				return &FormatError{Row: rd.row, Msg: fmt.Sprintf("the file ends inside the word %q, expected a space and %d float32 values", clip(string(raw)), rd.dim)}
			}
			if err != nil {
				return err
			}
			if c == ' ' {
				break
			}
			if c == '\n' && len(raw) == 0 {
				continue
			}
			raw = append(raw, c)
			if len(raw) > maxWordBytes {
				return &FormatError{Row: rd.row, Msg: fmt.Sprintf("word longer than %d bytes: not a word2vec file", maxWordBytes)}
			}
		}
		w, keep, err := rd.word(raw, 0)
		if err != nil {
			return err
		}
		start := len(rd.data)
		for got := 0; got < rd.dim; {
			n := min(rd.dim-got, readChunk/4)
			buf = buf[:4*n]
			m, err := io.ReadFull(rd.br, buf)
			if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
				return err
			}
			if m < len(buf) {
				rd.data = rd.data[:start]
				return &FormatError{Row: rd.row, Msg: fmt.Sprintf("%q is truncated: %d bytes of vector, expected %d (%d float32 values)", clip(w), 4*got+m, 4*rd.dim, rd.dim)}
			}
			for k := range n {
				x := math.Float32frombits(binary.LittleEndian.Uint32(buf[4*k:]))
				if err := rd.checkValue(x, got+k, w, 0); err != nil {
					return err
				}
				if keep {
					rd.data = append(rd.data, x)
				}
			}
			got += n
		}
		if keep {
			rd.words = append(rd.words, w)
		}
	}
	if rd.opt.Limit > 0 {
		return nil
	}
	rest, err := rd.br.Peek(1)
	for len(rest) > 0 && (rest[0] == '\n' || rest[0] == '\r' || rest[0] == ' ') {
		rd.br.ReadByte()
		rest, err = rd.br.Peek(1)
	}
	if len(rest) > 0 {
		return &FormatError{Row: rd.row + 1, Msg: fmt.Sprintf("more rows than the %d the header declares", rd.declared)}
	}
	if err != nil && err != io.EOF {
		return err
	}
	return nil
}

func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// checkWritable refuses words that no word2vec reader could read back.
func (v *Vectors) checkWritable() error {
	for i, w := range v.Words {
		if w == "" || strings.ContainsAny(w, " \n") {
			return fmt.Errorf("vectors: word %d (%q) is empty or holds a space or newline, which the word2vec formats cannot store", i+1, w)
		}
	}
	return nil
}

// WriteText writes the vectors in the word2vec text format exactly as gensim's
// save_word2vec_format does: "COUNT DIM\n", then per word the word and its
// values separated by single spaces and "\n", each value in the shortest form
// that reads back to the same float32, spelled as numpy's repr spells it (so
// the files are byte for byte gensim's).
func (v *Vectors) WriteText(w io.Writer) error {
	if err := v.checkWritable(); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%d %d\n", v.Len(), v.Dim)
	var num []byte
	for i, word := range v.Words {
		bw.WriteString(word)
		for _, x := range v.Row(i) {
			bw.WriteByte(' ')
			num = appendNumpyFloat32(num[:0], x)
			bw.Write(num)
		}
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteBinary writes the vectors in the word2vec binary format as the C tool
// does: "COUNT DIM\n", then per word the word, a space, DIM little-endian
// float32 values and "\n" (gensim leaves the newline out; both read either).
func (v *Vectors) WriteBinary(w io.Writer) error {
	if err := v.checkWritable(); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%d %d\n", v.Len(), v.Dim)
	var x4 [4]byte
	for i, word := range v.Words {
		bw.WriteString(word)
		bw.WriteByte(' ')
		for _, x := range v.Row(i) {
			binary.LittleEndian.PutUint32(x4[:], math.Float32bits(x))
			bw.Write(x4[:])
		}
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteFile writes the vectors to path, in the binary format when binary is
// set and the text format otherwise.
func (v *Vectors) WriteFile(path string, binary bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if binary {
		err = v.WriteBinary(f)
	} else {
		err = v.WriteText(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// appendNumpyFloat32 spells x as numpy's repr of a float32 does: the
// shortest digits that read back to x, positional for 1e-4 <= |x| < 1e16
// (always with a decimal point), scientific otherwise with a signed exponent
// of at least two digits; 0 as "0.0", NaN as "nan", infinities as "inf".
func appendNumpyFloat32(dst []byte, x float32) []byte {
	f := float64(x)
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	a := math.Abs(f)
	if a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.AppendFloat(dst, f, 'e', -1, 32)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 32)
	if bytes.IndexByte(dst[start:], '.') < 0 {
		dst = append(dst, ".0"...)
	}
	return dst
}

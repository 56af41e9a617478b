package train

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"
)

const checkpointMagic = "GBCKPT01"

// checkpointHeader is the JSON part of a checkpoint file.
type checkpointHeader struct {
	RecipeHash string          `json:"recipe_hash"`
	Recipe     json.RawMessage `json:"recipe"`
	Step       int64           `json:"step"`
	ElapsedNS  int64           `json:"elapsed_ns"`
	Curve      []curveJSON     `json:"curve"`
	Params     []paramShape    `json:"params"`
}

type paramShape struct {
	Name string `json:"name"`
	Rows int    `json:"rows"`
	Cols int    `json:"cols"`
}

// curveJSON stores a CurvePoint with the NaN validation loss as null.
type curveJSON struct {
	Step      int      `json:"step"`
	LR        float64  `json:"lr"`
	TrainLoss float64  `json:"train_loss"`
	GradNorm  float64  `json:"grad_norm"`
	ValLoss   *float64 `json:"val_loss"`
	Tokens    int64    `json:"tokens"`
}

// WriteCheckpoint writes the complete training state (weights, AdamW moments,
// step, loss curves) in the format "GBCKPT01", a little-endian uint32 header
// length, the JSON header, then for every parameter in order its weights,
// first moments and second moments as little-endian float32.
func (t *Trainer) WriteCheckpoint(w io.Writer) error {
	h := checkpointHeader{RecipeHash: t.Recipe.Hash(), Recipe: t.Recipe.JSON(), Step: t.adam.Step, ElapsedNS: int64(t.elapsed)}
	for _, p := range t.Curve {
		c := curveJSON{Step: p.Step, LR: p.LR, TrainLoss: p.TrainLoss, GradNorm: p.GradNorm, Tokens: p.Tokens}
		if !math.IsNaN(p.ValLoss) {
			v := p.ValLoss
			c.ValLoss = &v
		}
		h.Curve = append(h.Curve, c)
	}
	for _, p := range t.Model.Params {
		h.Params = append(h.Params, paramShape{p.Name, p.T.Rows, p.T.Cols})
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString(checkpointMagic)
	binary.Write(bw, binary.LittleEndian, uint32(len(hdr)))
	bw.Write(hdr)
	writeParamState(bw, t.Model, t.adam)
	return bw.Flush()
}

// writeParamState writes, for every parameter in order, its weights, first
// moments and second moments as little-endian float32.
func writeParamState(bw *bufio.Writer, m *Model[float32], adam *adamState) {
	buf := make([]byte, 0, 1<<16)
	for pi, p := range m.Params {
		for _, vals := range [][]float32{p.T.Data, adam.M[pi], adam.V[pi]} {
			for _, v := range vals {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				if len(buf) == cap(buf) {
					bw.Write(buf)
					buf = buf[:0]
				}
			}
		}
	}
	bw.Write(buf)
}

// SaveCheckpoint writes the checkpoint to path atomically (temporary file, then rename).
func (t *Trainer) SaveCheckpoint(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ckpt-*")
	if err != nil {
		return fmt.Errorf("train: saving checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := t.WriteCheckpoint(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("train: writing checkpoint %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("train: writing checkpoint %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("train: saving checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("train: saving checkpoint: %w", err)
	}
	return nil
}

// ReadCheckpoint restores the state written by WriteCheckpoint into t, whose
// recipe must be the one the checkpoint was made with.
func (t *Trainer) ReadCheckpoint(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, len(checkpointMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != checkpointMagic {
		return fmt.Errorf("train: not a glassbox checkpoint (expected magic %q)", checkpointMagic)
	}
	var n uint32
	if err := binary.Read(br, binary.LittleEndian, &n); err != nil {
		return fmt.Errorf("train: truncated checkpoint header: %w", err)
	}
	if n > 1<<28 {
		return fmt.Errorf("train: checkpoint header length %d is implausible", n)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return fmt.Errorf("train: truncated checkpoint header: %w", err)
	}
	var h checkpointHeader
	if err := json.Unmarshal(hdr, &h); err != nil {
		return fmt.Errorf("train: bad checkpoint header: %w", err)
	}
	if h.RecipeHash != t.Recipe.Hash() {
		return fmt.Errorf("train: checkpoint was made with a different recipe (hash %s, this recipe %s); resume needs the same recipe", h.RecipeHash, t.Recipe.Hash())
	}
	if err := readParamState(br, h.Params, t.Model, t.adam); err != nil {
		return err
	}
	t.adam.Step = h.Step
	t.elapsed = time.Duration(h.ElapsedNS)
	t.Curve = t.Curve[:0]
	for _, c := range h.Curve {
		p := CurvePoint{Step: c.Step, LR: c.LR, TrainLoss: c.TrainLoss, GradNorm: c.GradNorm, ValLoss: math.NaN(), Tokens: c.Tokens}
		if c.ValLoss != nil {
			p.ValLoss = *c.ValLoss
		}
		t.Curve = append(t.Curve, p)
	}
	return nil
}

// readParamState checks the shapes of a checkpoint's tensors against m's
// and reads what writeParamState wrote into m and adam, to the end of br.
func readParamState(br *bufio.Reader, shapes []paramShape, m *Model[float32], adam *adamState) error {
	if len(shapes) != len(m.Params) {
		return fmt.Errorf("train: checkpoint has %d tensors, model has %d", len(shapes), len(m.Params))
	}
	for i, p := range m.Params {
		if shapes[i] != (paramShape{p.Name, p.T.Rows, p.T.Cols}) {
			return fmt.Errorf("train: checkpoint tensor %d is %+v, model expects %s %dx%d", i, shapes[i], p.Name, p.T.Rows, p.T.Cols)
		}
	}
	buf := make([]byte, 4)
	for pi, p := range m.Params {
		for _, vals := range [][]float32{p.T.Data, adam.M[pi], adam.V[pi]} {
			for i := range vals {
				if _, err := io.ReadFull(br, buf); err != nil {
					return fmt.Errorf("train: truncated checkpoint data in %s: %w", p.Name, err)
				}
				vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf))
			}
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return fmt.Errorf("train: checkpoint has trailing bytes after the tensors")
	}
	return nil
}

// LoadCheckpoint reads the checkpoint file at path into t.
func (t *Trainer) LoadCheckpoint(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("train: reading checkpoint: %w", err)
	}
	return t.ReadCheckpoint(bytes.NewReader(data))
}

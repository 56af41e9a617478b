package infer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"glassbox/tensor"
)

// The session state file: what a session's KV cache holds and the tokens it
// holds them for, so that a later session of the same model (another
// process, after a restart) goes on from there without processing those
// tokens again (llama.cpp's slot save and restore). Little-endian:
//
//	magic      [8]byte  "GBXSTATE"
//	version    uint32   StateVersion
//	model      [32]byte the model's identity (the SHA-256 of its file)
//	kv type    uint32   tensor.Type of the values (and of the keys, unless key type differs)
//	key type   uint32   tensor.Type of the keys
//	layers     uint32
//	kv dim     uint32   key width of a position per layer
//	v dim      uint32   value width of a position per layer
//	vocab      uint32
//	context    uint32   positions of the saving session's cache (informative)
//	n          uint32   tokens held
//	tokens     n × int32
//	kv         model.State.WriteKV of n positions
//
// Nothing follows.

// StateVersion is the version of the state file this package writes and reads.
const StateVersion = 1

var stateMagic = [8]byte{'G', 'B', 'X', 'S', 'T', 'A', 'T', 'E'}

// ErrStateMismatch is wrapped by LoadState's error for a state saved from
// another model, or with other cache types or sizes: a valid file this
// session cannot take.
var ErrStateMismatch = errors.New("the saved state does not fit this session")

// stateHeader is the fixed part of a state file.
type stateHeader struct {
	Magic   [8]byte
	Version uint32
	Model   [32]byte
	KVType  uint32
	KeyType uint32
	Layers  uint32
	KVDim   uint32
	VDim    uint32
	Vocab   uint32
	Context uint32
	N       uint32
}

func (s *Session) header(modelID [32]byte, n int) stateHeader {
	c := &s.model.Config
	return stateHeader{Magic: stateMagic, Version: StateVersion, Model: modelID,
		KVType: uint32(s.state.KVType()), KeyType: uint32(s.state.KeyType()), Layers: uint32(c.Layers),
		KVDim: uint32(c.KVDim()), VDim: uint32(c.VDim()), Vocab: uint32(c.VocabSize), Context: uint32(s.state.Context()), N: uint32(n)}
}

// Tokens returns a copy of the tokens whose keys and values the cache holds.
func (s *Session) Tokens() []int {
	if s.state.Evicted() {
		return nil
	}
	return append([]int(nil), s.cached...)
}

// SaveState writes the session's cached tokens and their keys and values to
// w, naming modelID (the model's identity, see glassbox.Model.ID). It
// returns the number of tokens saved.
func (s *Session) SaveState(w io.Writer, modelID [32]byte) (int, error) {
	s.pin()
	defer s.unpin()
	n := len(s.cached)
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := binary.Write(bw, binary.LittleEndian, s.header(modelID, n)); err != nil {
		return 0, err
	}
	toks := make([]int32, n)
	for i, t := range s.cached {
		toks[i] = int32(t)
	}
	if err := binary.Write(bw, binary.LittleEndian, toks); err != nil {
		return 0, err
	}
	if err := s.state.WriteKV(bw, n); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return n, nil
}

// LoadState reads a state SaveState wrote into the session: its cache then
// holds those tokens, and a following generation whose prompt starts with
// them processes only the rest. The state must come from the same model
// (modelID) with the same cache types, and fit the session's context;
// otherwise the error wraps ErrStateMismatch and the session is unchanged.
// A damaged or truncated file is an error too, after which the session's
// cache is empty. It returns the number of tokens restored.
func (s *Session) LoadState(r io.Reader, modelID [32]byte) (int, error) {
	s.pin()
	defer s.unpin()
	br := bufio.NewReaderSize(r, 1<<20)
	var h stateHeader
	if err := binary.Read(br, binary.LittleEndian, &h); err != nil {
		return 0, fmt.Errorf("not a glassbox session state: the header is cut short (%v)", err)
	}
	if h.Magic != stateMagic {
		return 0, fmt.Errorf("not a glassbox session state: it starts with %q, expected %q", bytes.TrimRight(h.Magic[:], "\x00"), stateMagic[:])
	}
	if h.Version != StateVersion {
		return 0, fmt.Errorf("session state version %d is not supported: this glassbox reads version %d", h.Version, StateVersion)
	}
	want := s.header(modelID, 0)
	if h.Model != modelID {
		return 0, fmt.Errorf("%w: it was saved from another model (sha256 %s…), this is sha256 %s…", ErrStateMismatch, hex.EncodeToString(h.Model[:6]), hex.EncodeToString(modelID[:6]))
	}
	if h.KVType != want.KVType || h.KeyType != want.KeyType {
		return 0, fmt.Errorf("%w: it was saved with a %s key and %s value cache, this session has %s keys and %s values (see --cache-type-k, --kv-f32)",
			ErrStateMismatch, tensor.Type(h.KeyType), tensor.Type(h.KVType), tensor.Type(want.KeyType), tensor.Type(want.KVType))
	}
	if h.Layers != want.Layers || h.KVDim != want.KVDim || h.VDim != want.VDim || h.Vocab != want.Vocab {
		return 0, fmt.Errorf("%w: its model has %d layers of %d/%d key/value widths and %d tokens, this one %d layers of %d/%d and %d tokens",
			ErrStateMismatch, h.Layers, h.KVDim, h.VDim, h.Vocab, want.Layers, want.KVDim, want.VDim, want.Vocab)
	}
	if int64(h.N) > int64(s.state.Context()) {
		return 0, fmt.Errorf("%w: it holds %d tokens but this session's context holds %d (raise --ctx)", ErrStateMismatch, h.N, s.state.Context())
	}
	n := int(h.N)
	toks := make([]int32, n)
	if err := binary.Read(br, binary.LittleEndian, toks); err != nil {
		return 0, fmt.Errorf("session state: its %d tokens are cut short (%v)", n, err)
	}
	ids := make([]int, n)
	for i, t := range toks {
		if t < 0 || uint32(t) >= h.Vocab {
			return 0, fmt.Errorf("session state: token %d at position %d is outside the vocabulary (0 to %d)", t, i, h.Vocab-1)
		}
		ids[i] = int(t)
	}
	// from here the cache is overwritten: on error it holds nothing
	s.cached = s.cached[:0]
	if err := s.state.ReadKV(br, n); err != nil {
		return 0, fmt.Errorf("session state: %w", err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return 0, errors.New("session state: bytes follow the cache: the file is damaged or not a state of this version")
	}
	s.cached = append(s.cached, ids...)
	return n, nil
}

package choose

import (
	"os"
	"strings"

	"glassbox"
	"glassbox/eval"
	"glassbox/store"
)

// Gather returns the models on this machine: every model of the store at
// root ("" means the default store) and every other model file its evals/
// folder holds records of (by content: a record's SHA-256), each with its
// facts read from the file and its records. Records of remote endpoints and
// of models without a file (the embedded model) are left out; so is a
// recorded file no longer at its path with its size.
func Gather(root string) ([]Local, error) {
	recs, err := eval.List(root, "")
	if err != nil {
		return nil, err
	}
	bySHA := map[string][]eval.Record{}
	var order []string
	for _, r := range recs {
		if r.Model.Endpoint != "" || r.Model.SHA256 == "" {
			continue
		}
		if _, ok := bySHA[r.Model.SHA256]; !ok {
			order = append(order, r.Model.SHA256)
		}
		bySHA[r.Model.SHA256] = append(bySHA[r.Model.SHA256], r)
	}
	var out []Local
	done := map[string]bool{}
	if st, err := openStore(root); err == nil {
		ms, err := st.List()
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			l := Local{Name: m.Name, FileBytes: m.Size, Records: bySHA[m.SHA256]}
			if p, err := st.Path(m); err == nil {
				l.Path = p
				readFacts(&l)
			}
			out = append(out, l)
			done[m.SHA256] = true
		}
	}
	for _, sha := range order {
		if done[sha] {
			continue
		}
		rs := bySHA[sha]
		last := rs[len(rs)-1].Model
		if last.Path == "" {
			continue
		}
		fi, err := os.Stat(last.Path)
		if err != nil || fi.Size() != last.Size {
			continue
		}
		l := Local{Name: last.Name, Path: last.Path, FileBytes: last.Size, Records: rs}
		readFacts(&l)
		out = append(out, l)
	}
	return out, nil
}

// openStore opens the store at root without creating it: a machine without
// a store has no local models.
func openStore(root string) (*store.Store, error) {
	if root == "" {
		var err error
		if root, err = store.DefaultRoot(); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(root); err != nil {
		return nil, err
	}
	return &store.Store{Root: root}, nil
}

// readFacts fills l's facts from its file; a file that cannot be read
// leaves them empty (the candidate then says what is unknown).
func readFacts(l *Local) {
	c, err := glassbox.ReadConfig(l.Path)
	if err != nil {
		return
	}
	l.Arch, l.Layers, l.KVHeads, l.HeadDim, l.Vocab, l.ContextLength = c.Arch, c.Layers, c.KVHeads, c.HeadDim, c.VocabSize, c.ContextLength
	l.Params = c.Params()
	l.Quant = c.FileType
	if info, err := store.Inspect(l.Path); err == nil {
		l.License = strings.TrimSpace(info.License)
		if l.Quant == "" {
			l.Quant = info.Quant
		}
	}
	if fi, err := os.Stat(l.Path); err == nil {
		l.FileBytes = fi.Size()
	}
}

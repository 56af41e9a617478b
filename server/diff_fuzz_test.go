package server

import "testing"

func FuzzDiffRequest(f *testing.F) {
	for _, s := range append(fuzzSeeds,
		`{"base":"a","tuned":"b","prompt":"x","max_tokens":8,"top":3,"generator":"base","raw":true}`,
		`{"base":"a","tuned":"b","prompt":"x","temperature":0.7,"top_k":5,"top_p":0.9,"min_p":0.1,"seed":3}`,
		`{"base":"a","tuned":"b","prompt":"x","max_tokens":1e9,"top":-1}`, `{"base":1}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r DiffRequest
		fuzzDecode(t, data, &r, func() error { _, _, _, err := r.validate(); return err })
	})
}

//go:build race

package vectors

// raceEnabled: Hogwild training with several threads races by design (as
// word2vec.c and gensim do); tests skip it under the race detector.
const raceEnabled = true

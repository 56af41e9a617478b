package explain

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"glassbox/trace"
)

// DefaultPrompt is what `glassbox explain` asks the model when given no
// prompt: to explain itself in four layers (the course's quickstart exercise).
const DefaultPrompt = "Explique ce qu'est un grand modèle de langage à un développeur curieux, en quatre couches : description, analogie, dissection, métacognition."

// DetectLanguage guesses whether text is French ("fr") or English ("en") from
// accents and common words.
func DetectLanguage(text string) string {
	fr, en := 0, 0
	for _, r := range text {
		if strings.ContainsRune("éèêàùçôîâœëïü", unicode.ToLower(r)) {
			fr += 2
		}
	}
	frWords := map[string]bool{"le": true, "la": true, "les": true, "un": true, "une": true, "des": true, "est": true, "et": true, "du": true, "que": true, "qui": true, "dans": true, "pour": true, "il": true, "elle": true, "je": true, "vous": true, "pas": true, "sur": true, "ce": true, "était": true, "fois": true}
	enWords := map[string]bool{"the": true, "a": true, "an": true, "is": true, "and": true, "of": true, "to": true, "in": true, "that": true, "it": true, "was": true, "for": true, "you": true, "what": true, "how": true, "on": true, "with": true, "once": true, "upon": true, "there": true}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if frWords[w] {
			fr++
		}
		if enWords[w] {
			en++
		}
	}
	if fr > en {
		return "fr"
	}
	return "en"
}

// Facts are the numbers an explanation cites, each read from the trace; tests
// check that the text carries exactly these.
type Facts struct {
	Sentence       string
	PromptTokens   int    // the prompt's tokens, a leading BOS aside
	HasBOS         bool   // the prompt starts with a start-of-text (BOS) token
	BOS            string // its text without surrounding white space (llama2.c files spell it "\n<s>\n")
	FirstToken     trace.Token
	FirstProb      float32 // raw probability of the first generated token
	Alternatives   []trace.Candidate
	Entropy        float32
	Focus          *trace.HeadAttention // the most focused head at the first step
	FocusTop       trace.Attended
	LensFirstLayer int // first layer whose logit-lens top-1 is the chosen token (-1: none)
	LensTop        []trace.Candidate
	Neighbor       *trace.Embedding // a prompt token and its neighbours
	Greedy         bool
	Draw           float64
	Rank           int
	ChosenProb     float32
	Kept           []trace.SamplerStep
	Uncertain      trace.Step // the generated token the model was least sure of
	MeanProb       float32
}

// Gather extracts the facts of a trace. It needs at least one step.
func Gather(t *Trace) (*Facts, error) {
	if len(t.Steps) == 0 {
		return nil, fmt.Errorf("the trace has no generated token to explain")
	}
	s := t.Steps[0]
	f := &Facts{PromptTokens: len(t.Tokenization.Tokens), FirstToken: s.Token, FirstProb: s.Sampling.RawProb,
		Entropy: s.Prediction.Entropy, LensFirstLayer: -1, Greedy: s.Sampling.Draw < 0, Draw: s.Sampling.Draw,
		Rank: s.Sampling.ChosenRank, ChosenProb: s.Sampling.ChosenProb, Kept: s.Sampling.Steps}
	// a reader counts the words' tokens: the start-of-text token is told apart
	if toks := t.Tokenization.Tokens; len(toks) > 0 && toks[0].Special {
		f.HasBOS, f.BOS = true, strings.TrimSpace(toks[0].Text)
		f.PromptTokens--
	}
	if t.Done != nil {
		f.Sentence = strings.TrimSpace(t.Done.Text)
	}
	for _, c := range s.Prediction.Top {
		if c.ID != s.Token.ID {
			f.Alternatives = append(f.Alternatives, c)
		}
	}
	f.Alternatives = f.Alternatives[:min(2, len(f.Alternatives))]
	if len(s.Attention) > 0 {
		heads := append([]trace.HeadAttention(nil), s.Attention...)
		sort.SliceStable(heads, func(a, b int) bool { return heads[a].Entropy < heads[b].Entropy })
		f.Focus = &heads[0]
		if len(heads[0].Top) > 0 {
			f.FocusTop = heads[0].Top[0]
		}
	}
	for _, l := range s.LogitLens {
		if len(l.Top) == 0 {
			continue
		}
		f.LensTop = append(f.LensTop, l.Top[0])
		if f.LensFirstLayer < 0 && l.Top[0].ID == s.Token.ID {
			f.LensFirstLayer = l.Layer
		}
	}
	// the prompt token with the closest neighbour, specials aside
	for i := range t.Embeddings {
		e := &t.Embeddings[i]
		if e.Token.Special || len(e.Neighbors) == 0 || isByteToken(e.Token.Piece) {
			continue
		}
		if f.Neighbor == nil || e.Neighbors[0].Cosine > f.Neighbor.Neighbors[0].Cosine {
			f.Neighbor = e
		}
	}
	f.Uncertain = t.Steps[0]
	var sum float32
	for _, st := range t.Steps {
		sum += st.Sampling.RawProb
		if st.Sampling.RawProb < f.Uncertain.Sampling.RawProb {
			f.Uncertain = st
		}
	}
	f.MeanProb = sum / float32(len(t.Steps))
	return f, nil
}

// word shows a token's text inside prose: spaces are drawn as ␣ (so that " I"
// and "I", two different tokens, stay distinct), new lines as ⏎, tabs as ⇥.
func word(text string) string {
	w := Show(text)
	w = strings.ReplaceAll(w, " ", "␣")
	w = strings.ReplaceAll(w, `\n`, "⏎")
	return strings.ReplaceAll(w, `\t`, "⇥")
}

// quoters returns the French and English quoting of a token's text.
func quoters() (q, qe func(string) string) {
	return func(text string) string { return "« " + word(text) + " »" },
		func(text string) string { return "\"" + word(text) + "\"" }
}

func thousands(n int64, sep string) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Explain writes the four-layer explanation of a trace in lang ("fr" or "en").
func Explain(t *Trace, lang string) (string, error) {
	f, err := Gather(t)
	if err != nil {
		return "", err
	}
	switch lang {
	case "fr":
		return explainFR(t, f), nil
	case "en":
		return explainEN(t, f), nil
	}
	return "", fmt.Errorf("language %q is not supported (fr or en)", lang)
}

func explainFR(t *Trace, f *Facts) string {
	m := t.Meta
	q, _ := quoters()
	var b strings.Builder
	b.WriteString("1. Auto-description littérale\n\n")
	fmt.Fprintf(&b, "Je suis un grand modèle de langage (LLM) — ici un tout petit : %s, d'architecture %s, avec %s paramètres stockés en %s. "+
		"Cela signifie que je transforme du texte en %d tokens possibles (mon vocabulaire), que chaque token devient un vecteur de %d nombres, "+
		"et que ce vecteur traverse %d couches, chacune avec %d têtes d'attention (partageant %d têtes clé/valeur) et un réseau de %d neurones. "+
		"Je vois au plus %d tokens de contexte. À chaque pas, je ne fais qu'une chose : donner une probabilité à chaque token suivant possible.\n\n",
		m.Model, m.Arch, thousands(m.Params, " "), m.QuantType, m.Vocab, m.Dim, m.Layers, m.Heads, m.KVHeads, m.HiddenDim, m.ContextLength)

	b.WriteString("2. Analogie : la poupée russe de savoir humain compressé\n\n")
	fmt.Fprintf(&b, "Imaginez une poupée russe. La poupée extérieure, c'est le texte que vous lisez ; en l'ouvrant, on trouve %d poupées emboîtées, "+
		"mes %d couches : chacune reprend la représentation de la précédente et l'affine. La compression, c'est l'entraînement : "+
		"des quantités de textes humains résumées dans %s nombres. ", m.Layers, m.Layers, thousands(m.Params, " "))
	if len(f.LensTop) > 0 {
		var parts []string
		for i, c := range f.LensTop {
			parts = append(parts, fmt.Sprintf("couche %d : %s (%s)", t.Steps[0].LogitLens[i].Layer+1, q(c.Text), PctIn("fr", c.Prob)))
		}
		fmt.Fprintf(&b, "Ouvrons les poupées une à une pendant que j'écris mon premier token : si je m'arrêtais après chaque couche, je dirais %s.", strings.Join(parts, ", "))
	}
	b.WriteString("\n\n")

	b.WriteString("3. Auto-dissection : comment j'ai produit cette phrase\n\n")
	fmt.Fprintf(&b, "La phrase : « %s »\n\n", f.Sentence)
	fmt.Fprintf(&b, "- Tokenisation : votre prompt est devenu %s", countFR(f.PromptTokens))
	if f.HasBOS {
		fmt.Fprintf(&b, ", précédé%s du token de début de texte", map[bool]string{true: "s"}[f.PromptTokens > 1])
		if f.BOS != "" {
			b.WriteString(" " + q(f.BOS))
		}
	}
	b.WriteString(".")
	if f.Neighbor != nil {
		n := f.Neighbor.Neighbors[0]
		fmt.Fprintf(&b, "\n- Embeddings : le token %s est un vecteur de norme %s ; son plus proche voisin dans toute la table est %s (cosinus %s).",
			q(f.Neighbor.Token.Text), F3In("fr", f.Neighbor.Norm), q(n.Text), F3In("fr", n.Cosine))
	}
	if f.Focus != nil {
		fmt.Fprintf(&b, "\n- Attention : pour écrire %s, la tête la plus concentrée (couche %d, tête %d) a regardé surtout %s à la position %d, avec un poids de %s.",
			q(f.FirstToken.Text), f.Focus.Layer+1, f.Focus.Head+1, q(f.FocusTop.Token.Text), f.FocusTop.Position, F3In("fr", f.FocusTop.Weight))
	}
	fmt.Fprintf(&b, "\n- Prédiction : %s avec une probabilité de %s", q(f.FirstToken.Text), PctIn("fr", f.FirstProb))
	for _, a := range f.Alternatives {
		fmt.Fprintf(&b, ", devant %s (%s)", q(a.Text), PctIn("fr", a.Prob))
	}
	fmt.Fprintf(&b, " ; entropie %s nats.", F3In("fr", f.Entropy))
	if f.Greedy {
		fmt.Fprintf(&b, "\n- Décodage : décodage glouton, j'ai pris le plus probable (rang %d).", f.Rank)
	} else {
		fmt.Fprintf(&b, "\n- Décodage : après la chaîne d'échantillonnage (%s), le tirage %s a choisi le token de rang %d, de probabilité %s.",
			chain(f.Kept), strconv.FormatFloat(f.Draw, 'f', 4, 64), f.Rank, PctIn("fr", f.ChosenProb))
	}
	fmt.Fprintf(&b, "\n- Sur les %d tokens produits, ma probabilité moyenne pour le token choisi était de %s ; j'ai le plus hésité sur %s (%s).\n\n",
		len(t.Steps), PctIn("fr", f.MeanProb), q(f.Uncertain.Token.Text), PctIn("fr", f.Uncertain.Sampling.RawProb))

	b.WriteString("4. Métacognition\n\n")
	b.WriteString("Pourquoi cette explication en couches fonctionne-t-elle ? Parce qu'un LLM construit ses représentations hiérarchiquement, couche après couche — comme cette explication, du plus littéral au plus abstrait. ")
	if f.LensFirstLayer >= 0 {
		fmt.Fprintf(&b, "On le voit dans mes propres nombres : le token finalement écrit, %s, n'apparaît en tête qu'à partir de la couche %d sur %d.", q(f.FirstToken.Text), f.LensFirstLayer+1, m.Layers)
	} else if len(f.LensTop) > 0 {
		fmt.Fprintf(&b, "On le voit dans mes propres nombres : aucune couche intermédiaire ne plaçait %s en tête ; la décision ne s'est formée qu'à la sortie.", q(f.FirstToken.Text))
	}
	b.WriteString("\n")
	return b.String()
}

func explainEN(t *Trace, f *Facts) string {
	m := t.Meta
	_, qe := quoters()
	var b strings.Builder
	b.WriteString("1. Literal self-description\n\n")
	fmt.Fprintf(&b, "I am a large language model (LLM) — a very small one here: %s, a %s architecture with %s parameters stored as %s. "+
		"That means I turn text into tokens from a vocabulary of %d, each token becomes a vector of %d numbers, "+
		"and that vector goes through %d layers, each with %d attention heads (sharing %d key/value heads) and a %d-neuron feed-forward network. "+
		"I see at most %d tokens of context. At every step I do one thing only: give a probability to every possible next token.\n\n",
		m.Model, m.Arch, thousands(m.Params, ","), m.QuantType, m.Vocab, m.Dim, m.Layers, m.Heads, m.KVHeads, m.HiddenDim, m.ContextLength)

	b.WriteString("2. Analogy: a Russian doll of compressed human knowledge\n\n")
	fmt.Fprintf(&b, "Picture a Russian doll. The outer doll is the text you read; open it and you find %d nested dolls, "+
		"my %d layers: each takes the previous one's representation and refines it. The compression is training: "+
		"a great deal of human text summed up in %s numbers. ", m.Layers, m.Layers, thousands(m.Params, ","))
	if len(f.LensTop) > 0 {
		var parts []string
		for i, c := range f.LensTop {
			parts = append(parts, fmt.Sprintf("layer %d: %s (%s)", t.Steps[0].LogitLens[i].Layer+1, qe(c.Text), Pct(c.Prob)))
		}
		fmt.Fprintf(&b, "Let us open the dolls one by one while I write my first token: had I stopped after each layer, I would have said %s.", strings.Join(parts, ", "))
	}
	b.WriteString("\n\n")

	b.WriteString("3. Self-dissection: how I produced this sentence\n\n")
	fmt.Fprintf(&b, "The sentence: \"%s\"\n\n", f.Sentence)
	fmt.Fprintf(&b, "- Tokenization: your prompt became %s", plural(f.PromptTokens, "token"))
	if f.HasBOS {
		b.WriteString(", after the start-of-text token")
		if f.BOS != "" {
			b.WriteString(" " + qe(f.BOS))
		}
	}
	b.WriteString(".")
	if f.Neighbor != nil {
		n := f.Neighbor.Neighbors[0]
		fmt.Fprintf(&b, "\n- Embeddings: the token %s is a vector of norm %s; its nearest neighbour in the whole table is %s (cosine %s).",
			qe(f.Neighbor.Token.Text), F3(f.Neighbor.Norm), qe(n.Text), F3(n.Cosine))
	}
	if f.Focus != nil {
		fmt.Fprintf(&b, "\n- Attention: to write %s, the most focused head (layer %d, head %d) looked mostly at %s at position %d, with weight %s.",
			qe(f.FirstToken.Text), f.Focus.Layer+1, f.Focus.Head+1, qe(f.FocusTop.Token.Text), f.FocusTop.Position, F3(f.FocusTop.Weight))
	}
	fmt.Fprintf(&b, "\n- Prediction: %s with probability %s", qe(f.FirstToken.Text), Pct(f.FirstProb))
	for _, a := range f.Alternatives {
		fmt.Fprintf(&b, ", ahead of %s (%s)", qe(a.Text), Pct(a.Prob))
	}
	fmt.Fprintf(&b, "; entropy %s nats.", F3(f.Entropy))
	if f.Greedy {
		fmt.Fprintf(&b, "\n- Decoding: greedy decoding, I took the most likely token (rank %d).", f.Rank)
	} else {
		fmt.Fprintf(&b, "\n- Decoding: after the sampler chain (%s), the draw %s picked the token of rank %d, probability %s.",
			chain(f.Kept), strconv.FormatFloat(f.Draw, 'f', 4, 64), f.Rank, Pct(f.ChosenProb))
	}
	fmt.Fprintf(&b, "\n- Over the %d tokens I produced, my mean probability for the chosen token was %s; I hesitated most on %s (%s).\n\n",
		len(t.Steps), Pct(f.MeanProb), qe(f.Uncertain.Token.Text), Pct(f.Uncertain.Sampling.RawProb))

	b.WriteString("4. Metacognition\n\n")
	b.WriteString("Why does this layered explanation work? Because an LLM builds its representations hierarchically, layer after layer — like this explanation, from the literal to the abstract. ")
	if f.LensFirstLayer >= 0 {
		fmt.Fprintf(&b, "My own numbers show it: the token I finally wrote, %s, only comes out on top from layer %d of %d.", qe(f.FirstToken.Text), f.LensFirstLayer+1, m.Layers)
	} else if len(f.LensTop) > 0 {
		fmt.Fprintf(&b, "My own numbers show it: no intermediate layer had %s on top; the decision only formed at the output.", qe(f.FirstToken.Text))
	}
	b.WriteString("\n")
	return b.String()
}

// countFR writes a number of tokens in French: "1 token", "4 tokens".
func countFR(n int) string {
	if n == 1 {
		return "1 token"
	}
	return strconv.Itoa(n) + " tokens"
}

// isByteToken reports a SentencePiece byte-fallback token such as <0x0A>.
func isByteToken(piece string) bool {
	return len(piece) == 6 && strings.HasPrefix(piece, "<0x") && strings.HasSuffix(piece, ">")
}

func chain(steps []trace.SamplerStep) string {
	var parts []string
	for _, s := range steps {
		parts = append(parts, fmt.Sprintf("%s→%d", s.Name, s.Kept))
	}
	return strings.Join(parts, ", ")
}

#!/usr/bin/python3
"""Make the gensim reference files for the vectors package's tests.

Run from this folder with Debian's python3-gensim (4.2):

    /usr/bin/python3 make_gensim_fixtures.py

It generates a small corpus (nothing from the shared fixtures), trains a tiny
word2vec model with gensim, saves it in the text and binary word2vec formats,
writes the C tool's binary layout (a newline after each row) and checks that
gensim loads it to the same vectors, and records gensim's answers to queries
and evaluations in gensim.json.
"""
import json
import random

import numpy as np
from gensim.models import Word2Vec, KeyedVectors

rng = random.Random(17)
pairs = [("king", "queen"), ("man", "woman"), ("prince", "princess"), ("boy", "girl"), ("father", "mother")]
capitals = [("paris", "france"), ("rome", "italy"), ("berlin", "germany"), ("madrid", "spain"), ("lisbon", "portugal")]
verbs = ["walks", "talks", "sleeps", "eats", "reads"]
sentences = []
for _ in range(1500):
    m, f = rng.choice(pairs)
    v = rng.choice(verbs)
    sentences.append(["the", m, "he", v, "and", "his", "hat"])
    sentences.append(["the", f, "she", v, "and", "her", "dress"])
    c, k = rng.choice(capitals)
    sentences.append([c, "is", "the", "capital", "of", k])
    sentences.append(["in", k, "the", "city", "of", c, rng.choice(verbs)])
# A capitalised variant, so that case-insensitive evaluation has something to fold.
sentences.append(["Paris", "is", "big"])

model = Word2Vec(sentences, vector_size=8, window=3, min_count=1, sg=1, negative=5, epochs=20, seed=1, workers=1)
kv = model.wv
kv.save_word2vec_format("gensim.txt", binary=False)
kv.save_word2vec_format("gensim.bin", binary=True)

# The C tool's binary layout: "word " + float32 values + "\n".
with open("ctool.bin", "wb") as f:
    f.write(f"{len(kv.index_to_key)} {kv.vector_size}\n".encode())
    for w in kv.index_to_key:
        f.write(w.encode() + b" " + kv[w].astype("<f4").tobytes() + b"\n")
back = KeyedVectors.load_word2vec_format("ctool.bin", binary=True)
assert back.index_to_key == kv.index_to_key and np.array_equal(back.vectors, kv.vectors)
back = KeyedVectors.load_word2vec_format("gensim.txt", binary=False)
assert back.index_to_key == kv.index_to_key and np.array_equal(back.vectors, kv.vectors)

with open("analogies.txt", "w") as f:
    f.write(""": family
king queen man woman
man woman king queen
boy girl prince princess
father mother boy girl
prince princess father mother
King Queen Father Mother
king queen uncle aunt
: capitals
paris france rome italy
rome italy berlin germany
berlin germany madrid spain
madrid spain lisbon portugal
lisbon portugal paris france
paris france Tokyo Japan
not a question
""")
with open("pairs.tsv", "w") as f:
    f.write("""# Word 1	Word 2	Human (mean)
king	queen	8.5
man	woman	8.3
king	paris	1.2
paris	rome	6.0
france	italy	6.0
walks	talks	6.0
hat	dress	5.5
boy	girl	8.3
the	of	1.0
king	unicorn	3.0
Father	Mother	8.3
walks	eats	6.0
""")

ref = {"similar": [], "similar_cosmul": [], "doesnt_match": [], "similarity": []}
for pos, neg in [(["king"], []), (["paris"], []), (["queen", "man"], ["woman"]), (["italy", "paris"], ["france"])]:
    ref["similar"].append({"positive": pos, "negative": neg, "topn": 5,
                           "result": [[w, float(s)] for w, s in kv.most_similar(positive=pos, negative=neg, topn=5)]})
    ref["similar"].append({"positive": pos, "negative": neg, "topn": 3, "restrict_vocab": 15,
                           "result": [[w, float(s)] for w, s in kv.most_similar(positive=pos, negative=neg, topn=3, restrict_vocab=15)]})
    ref["similar_cosmul"].append({"positive": pos, "negative": neg, "topn": 5,
                                  "result": [[w, float(s)] for w, s in kv.most_similar_cosmul(positive=pos, negative=neg, topn=5)]})
for words in [["king", "queen", "paris", "prince"], ["walks", "talks", "sleeps", "france"]]:
    ref["doesnt_match"].append({"words": words, "result": kv.doesnt_match(words)})
for a, b in [("king", "queen"), ("paris", "walks"), ("hat", "dress")]:
    ref["similarity"].append({"words": [a, b], "result": float(kv.similarity(a, b))})
ref["analogies"] = []
for restrict in [300000, 30]:
    score, sections = kv.evaluate_word_analogies("analogies.txt", restrict_vocab=restrict)
    ref["analogies"].append({"restrict_vocab": restrict, "score": float(score),
                             "sections": [{"name": s["section"], "correct": len(s["correct"]), "incorrect": len(s["incorrect"])} for s in sections]})
ref["pairs"] = []
for restrict in [300000, 30]:
    pearson, spearman, oov = kv.evaluate_word_pairs("pairs.tsv", restrict_vocab=restrict)
    ref["pairs"].append({"restrict_vocab": restrict, "pearson": float(pearson[0]), "spearman": float(spearman[0]), "oov_ratio": float(oov)})
with open("gensim.json", "w") as f:
    json.dump(ref, f)
    f.write("\n")

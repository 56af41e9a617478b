"""Evaluate word2vec files (text, or binary when the name ends in .bin) as docs/vectors.md does.

usage: /usr/bin/python3 evaluate.py FIXTURES/embeddings FILE...
"""
import sys

from gensim.models import KeyedVectors

emb = sys.argv[1].rstrip("/") + "/"
for f in sys.argv[2:]:
    kv = KeyedVectors.load_word2vec_format(f, binary=f.endswith(".bin"))
    a = kv.evaluate_word_analogies(emb + "questions-words.txt", restrict_vocab=30000)[0]
    ws = kv.evaluate_word_pairs(emb + "wordsim353.tsv")[1][0]
    sl = kv.evaluate_word_pairs(emb + "simlex999.txt")[1][0]
    print("%s analogy %.3f wordsim %.3f simlex %.3f" % (f, a, ws, sl))

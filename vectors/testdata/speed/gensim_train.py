"""Train gensim 4.2's Word2Vec on the tokens file speed.sh writes and print the training speed.

usage: /usr/bin/python3 gensim_train.py TOKENS SG THREADS SEED EPOCHS OUT|-
(Debian's python3-gensim; vocabulary building is not timed, as glassbox's summary does not time it.)
"""
import sys
import time

from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence

tokens, sg, threads, seed, epochs, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
alpha = 0.025 if sg else 0.05
sents = list(LineSentence(tokens))
m = Word2Vec(vector_size=100, window=5, negative=5, min_count=5, sg=sg, workers=threads, seed=seed, sample=1e-3, alpha=alpha)
m.build_vocab(sents)
t = time.time()
m.train(sents, total_examples=m.corpus_count, epochs=epochs)
dt = time.time() - t
n = sum(len(s) for s in sents)
print("gensim sg=%d threads=%d %.3fs %.0f tokens/s" % (sg, threads, dt, n * epochs / dt))
if out != "-":
    m.wv.save_word2vec_format(out, binary=True)

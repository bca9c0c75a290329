"""A synthetic MS MARCO-like passage collection and three query sets, for `inpars-bench
bm25-scale` and `ref_bm25s_scale.py`.

Usage: make_bm25_corpus.py OUT_DIR [--passages N] [--queries Q] [--vocabulary V] [--seed S]
       e.g. make_bm25_corpus.py /work/bench-data/msmarco-like-1m --passages 1000000
            make_bm25_corpus.py /work/bench-data/msmarco-like-8.8m --passages 8841823

What it writes (MS MARCO's own layouts, so `inpars index`/`inpars search` read them as they are):
- collection.tsv: `pid<TAB>passage`, pids 0..N-1; passage lengths uniform in 24..88 words
  (mean 56, MS MARCO's mean passage length); each word drawn from a Zipf(1) distribution over
  V pseudo-words (rank r has probability proportional to 1/(r+1)).
- queries.common.tsv, queries.mid.tsv, queries.rare.tsv: `qid<TAB>query`, Q queries each of
  2..6 words (MS MARCO dev queries have about 4 words once stopwords are gone):
  common = words drawn Zipf-wise from the 1,000 most frequent words (document frequencies from
  about 97 % down to 0.4 % of the passages: the head of the vocabulary, stopword-like words
  included); mid = words drawn uniformly from ranks 1,000..99,999; rare = words drawn uniformly
  from ranks 100,000..V-1 (tens to hundreds of occurrences in 8.8M passages).
- meta.json: the parameters.

Words are lowercase letters (the bijective base-26 numeral of the rank, so frequent words are
short) followed by one digit: Lucene's StandardTokenizer and bm25s's regex both keep such a
word as one token, neither the Porter nor the Snowball stemmer changes it, and none is a
stopword, so both engines index exactly the same terms. Deterministic for a given seed.
Needs numpy only. About 6 minutes and 3.3 GB of disk for 8.8M passages.
"""
import argparse
import json
import os
import sys
import time

import numpy as np


def word(rank: int) -> str:
    n = rank + 1
    letters = []
    while n > 0:
        n, r = divmod(n - 1, 26)
        letters.append(chr(97 + r))
    return "".join(reversed(letters)) + str(rank % 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--vocabulary", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    vocabulary = [word(r) for r in range(args.vocabulary)]
    weights = 1.0 / np.arange(1, args.vocabulary + 1, dtype=np.float64)
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]

    started = time.time()
    path = os.path.join(args.out, "collection.tsv")
    tokens = 0
    with open(path + ".part", "w", encoding="ascii") as out:
        chunk = 100_000
        for first in range(0, args.passages, chunk):
            count = min(chunk, args.passages - first)
            lengths = rng.integers(24, 89, size=count)
            ranks = np.searchsorted(cdf, rng.random(int(lengths.sum())), side="right")
            np.minimum(ranks, args.vocabulary - 1, out=ranks)
            words = [vocabulary[r] for r in ranks.tolist()]
            ends = np.cumsum(lengths).tolist()
            lines = []
            start = 0
            for i, end in enumerate(ends):
                lines.append(f"{first + i}\t{' '.join(words[start:end])}\n")
                start = end
            out.write("".join(lines))
            tokens += len(words)
            if (first // chunk) % 10 == 9:
                print(f"{first + count} passages, {time.time() - started:.0f} s", file=sys.stderr)
    os.replace(path + ".part", path)

    def zipf_head(n: int, head: int) -> np.ndarray:
        c = np.cumsum(weights[:head])
        c /= c[-1]
        return np.minimum(np.searchsorted(c, rng.random(n), side="right"), head - 1)

    sets = {
        "common": lambda n: zipf_head(n, 1_000),
        "mid": lambda n: rng.integers(1_000, 100_000, size=n),
        "rare": lambda n: rng.integers(100_000, args.vocabulary, size=n),
    }
    for name, draw in sets.items():
        with open(os.path.join(args.out, f"queries.{name}.tsv"), "w", encoding="ascii") as out:
            for q in range(args.queries):
                length = int(rng.integers(2, 7))
                out.write(f"{q}\t{' '.join(vocabulary[r] for r in draw(length).tolist())}\n")
    meta = dict(passages=args.passages, tokens=tokens, vocabulary=args.vocabulary, seed=args.seed,
                zipf_exponent=1.0, passage_words="uniform 24..88", query_words="uniform 2..6",
                query_sets=dict(common="Zipf over ranks 0..999", mid="uniform ranks 1000..99999",
                                rare=f"uniform ranks 100000..{args.vocabulary - 1}"),
                queries_per_set=args.queries)
    with open(os.path.join(args.out, "meta.json"), "w") as out:
        json.dump(meta, out, indent=2)
    print(f"wrote {args.passages} passages ({tokens} words) and 3 x {args.queries} queries to"
          f" {args.out} in {time.time() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

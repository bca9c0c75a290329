"""Builds bm25s's index for a collection too large for bm25s's own `index()` on this machine,
so `ref_bm25s_scale.py` can measure bm25s's retrieval at MS MARCO scale.

bm25s 0.3.16's `index()` holds Python lists of token ids and three arrays per posting: about
3.3 GB per million passages, so 29 GB for 8.8M, past a 24 GiB machine. This script writes the
same files (`data.csc.index.npy`, `indices.csc.index.npy`, `indptr.csc.index.npy`,
`vocab.index.json`, `params.index.json`) from one streaming pass over the collection, keeping
only the postings (10 bytes each while building, 8 in the result):
- tokens as `bm25s.tokenize` makes them: lower-cased, regex `(?u)\\b\\w\\w+\\b`, the same
  stopwords as ref_bm25s_scale.py removed, then PyStemmer's English stemmer;
- scores as bm25s's "lucene" method computes them under NumPy 2's promotion rules:
  `idf = log(1 + (N - df + 0.5) / (df + 0.5))` stored as float32, then in double
  `idf * tf / (k1 * ((1 - b) + b * dl / avgdl) + tf)` (its `avgdl` is a NumPy float64, which
  promotes the float32 term frequencies), stored as float32;
- the CSC layout bm25s builds: one column per term, documents ascending, int32 indices.
Term ids are in first-seen order; bm25s maps query tokens through `vocab.index.json`, so the
order does not matter to retrieval. `--check DIR` compares the result with an index bm25s
built itself (term by term: same documents, same float32 scores) — run it on the 1M
collection, where bm25s can build its own.

Usage: build_bm25s_index.py COLLECTION.tsv OUT_DIR [--chunk 200000] [--check BM25S_DIR]
Needs: numpy, PyStemmer, bm25s 0.3.16 (for the version recorded in params).
"""
import argparse
import json
import math
import os
import re
import resource
import sys
import time

import numpy as np
import Stemmer

STOP = set(("a an and are as at be but by for if in into is it no not of on or such that the their then"
            " there these they this to was will with").split())
K1, B = 0.9, 0.4


def peak_rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("collection")
    parser.add_argument("out")
    parser.add_argument("--chunk", type=int, default=200_000)
    parser.add_argument("--check")
    args = parser.parse_args()
    if os.path.exists(os.path.join(args.out, "params.index.json")):
        sys.exit(f"{args.out} already holds an index; remove it first")
    split = re.compile(r"(?u)\b\w\w+\b").findall
    stem = Stemmer.Stemmer("english").stemWord
    vocab: dict[str, int] = {}
    stems: dict[str, int] = {}  # surface token -> term id (None: stopword)
    chunks = []  # (term ids, local doc ids, tf) per chunk, postings sorted by doc then term
    lengths = []
    started = time.time()
    n = 0

    def flush(ids: list[int], offsets: list[int], first_doc: int) -> None:
        if not ids:
            return
        terms = np.asarray(ids, dtype=np.int64)
        docs = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
        keys = np.unique(docs * (1 << 32) + terms, return_counts=True)
        chunks.append((
            (keys[0] & 0xFFFFFFFF).astype(np.int32),
            ((keys[0] >> 32) + first_doc).astype(np.int32),
            keys[1].astype(np.uint16)))

    with open(args.collection, encoding="utf-8") as f:
        ids: list[int] = []
        offsets = [0]
        first = 0
        for line in f:
            _, text = line.rstrip("\n").split("\t", 1)
            count = 0
            for token in split(text.lower()):
                term = stems.get(token, -1)
                if term == -1:
                    if token in STOP:
                        term = None
                    else:
                        s = stem(token)
                        term = vocab.setdefault(s, len(vocab))
                    stems[token] = term
                if term is not None:
                    ids.append(term)
                    count += 1
            offsets.append(len(ids))
            lengths.append(count)
            n += 1
            if n - first == args.chunk:
                flush(ids, offsets, first)
                ids, offsets, first = [], [0], n
                print(f"{n:,} documents, {len(vocab):,} terms, {time.time() - started:.0f} s,"
                      f" peak RSS {peak_rss_mb():,} MB", file=sys.stderr, flush=True)
        flush(ids, offsets, first)
    del stems
    lengths = np.asarray(lengths, dtype=np.float64)
    avgdl = float(lengths.mean())
    n_terms = len(vocab)
    df = np.zeros(n_terms, dtype=np.int64)
    for terms, _, _ in chunks:
        df += np.bincount(terms, minlength=n_terms)
    idf = np.array([math.log(1 + (n - d + 0.5) / (d + 0.5)) for d in df.tolist()], dtype=np.float32)
    length_part = K1 * ((1 - B) + B * lengths / avgdl)
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    total = int(indptr[-1])
    data = np.empty(total, dtype=np.float32)
    indices = np.empty(total, dtype=np.int32)
    heads = indptr[:-1].copy()
    while chunks:
        terms, docs, tf = chunks.pop(0)
        order = np.argsort(terms, kind="stable")  # documents stay ascending within a term
        terms, docs, tf = terms[order], docs[order], tf[order].astype(np.float64)
        starts = np.flatnonzero(np.r_[True, terms[1:] != terms[:-1]])
        counts = np.diff(np.r_[starts, len(terms)])
        group_terms = terms[starts]
        rank = np.arange(len(terms)) - np.repeat(starts, counts)
        positions = heads[terms] + rank
        heads[group_terms] += counts
        indices[positions] = docs
        data[positions] = idf[terms].astype(np.float64) * (tf / (length_part[docs] + tf))
    assert np.array_equal(heads, indptr[1:]), "postings lost while building"
    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "data.csc.index.npy"), data)
    np.save(os.path.join(args.out, "indices.csc.index.npy"), indices)
    np.save(os.path.join(args.out, "indptr.csc.index.npy"), indptr)
    vocab[""] = n_terms  # bm25s adds the empty token to a vocabulary built from strings
    with open(os.path.join(args.out, "vocab.index.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    import bm25s
    params = dict(k1=K1, b=B, delta=0.5, method="lucene", idf_method="lucene", dtype="float32",
                  int_dtype="int32", num_docs=n, version=bm25s.__version__, backend="numba")
    with open(os.path.join(args.out, "params.index.json"), "w") as f:
        json.dump(params, f, indent=4)
    print(f"bm25s index of {n:,} documents, {n_terms:,} terms, {total:,} postings in"
          f" {time.time() - started:.0f} s, peak RSS {peak_rss_mb():,} MB → {args.out}")
    if args.check:
        check(args.out, args.check)


def check(ours: str, theirs: str) -> None:
    def load(folder):
        arrays = [np.load(os.path.join(folder, f"{name}.csc.index.npy"), mmap_mode="r")
                  for name in ("data", "indices", "indptr")]
        with open(os.path.join(folder, "vocab.index.json"), encoding="utf-8") as f:
            return arrays, json.load(f)
    (d1, i1, p1), v1 = load(ours)
    (d2, i2, p2), v2 = load(theirs)
    assert set(v1) == set(v2), f"vocabularies differ: {len(set(v1) ^ set(v2))} terms"
    differing = 0
    for term, a in v1.items():
        b = v2[term]
        if a + 1 >= len(p1) or b + 1 >= len(p2):
            continue  # the empty token has no column
        x = slice(p1[a], p1[a + 1])
        y = slice(p2[b], p2[b + 1])
        if not (np.array_equal(i1[x], i2[y]) and np.array_equal(d1[x], d2[y])):
            differing += 1
    assert differing == 0, f"{differing} terms differ from bm25s's own index"
    print(f"check: all {len(v1):,} terms equal bm25s's own index in {theirs}"
          f" (documents and float32 scores)")


if __name__ == "__main__":
    main()

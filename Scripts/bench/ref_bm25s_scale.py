"""Reference for `inpars-bench bm25-scale`: bm25s (numba backend, Lucene variant, k1 0.9,
b 0.4) on a collection made by make_bm25_corpus.py: index time and peak memory, then
queries/s of `retrieve` for each query set, k and thread count (numba's own threads).

Usage: ref_bm25s_scale.py DATA_DIR [--index-dir DIR] [--threads 1,2] [--k 10,100,1000]
                          [--repeats 3] [--queries N] [--sets common,mid,rare]
       ref_bm25s_scale.py --beir BEIR_DIR [--repeats 5] [--threads 1,2]
  --beir: SciFact-style folder (corpus.jsonl, queries.jsonl, qrels/test.tsv): wall and CPU time
  of one `retrieve` call for the judged test queries at k = 1000, per thread count (what
  `inpars-bench bm25 --inpars` compares with the whole `inpars search` process).
  "queries per CPU-second" divides by the process's CPU time (all threads): on a busy machine
  it shows what an idle one would give (for 2 threads, twice it is the ideal wall rate).
  The bm25s index is saved to --index-dir (default DATA_DIR/bm25s-index) after the first
  build and loaded from there on later runs (index time is then not measured again).
Needs: bm25s 0.3.16, numba, PyStemmer (pip install bm25s numba PyStemmer).
"""
import argparse
import os
import resource
import statistics
import sys
import time

import bm25s
import numpy as np
import Stemmer

STOP = ("a an and are as at be but by for if in into is it no not of on or such that the their then"
        " there these they this to was will with").split()


def peak_rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def read_tsv(path, limit=None):
    ids, texts = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            i, text = line.rstrip("\n").split("\t", 1)
            ids.append(i)
            texts.append(text)
            if limit and len(ids) >= limit:
                break
    return ids, texts


def beir(folder: str, repeats: int, thread_counts: list[int]) -> None:
    import json
    docs = [json.loads(line) for line in open(f"{folder}/corpus.jsonl")]
    judged = {line.split("\t")[0] for line in list(open(f"{folder}/qrels/test.tsv"))[1:]}
    queries = [q["text"] for q in map(json.loads, open(f"{folder}/queries.jsonl")) if q["_id"] in judged]
    stemmer = Stemmer.Stemmer("english")
    tokens = bm25s.tokenize([d.get("title", "") + " " + d["text"] for d in docs], stopwords=STOP,
                            stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25(method="lucene", k1=0.9, b=0.4, backend="numba")
    retriever.index(tokens, show_progress=False)
    q = bm25s.tokenize(queries, stopwords=STOP, stemmer=stemmer, show_progress=False)
    retriever.retrieve(q, k=10, show_progress=False, n_threads=1)  # numba JIT
    for n in thread_counts:
        walls, cpus = [], []
        for _ in range(repeats):
            t, c = time.time(), time.process_time()
            retriever.retrieve(q, k=1000, show_progress=False, n_threads=n)
            walls.append(time.time() - t)
            cpus.append(time.process_time() - c)
        print(f"bm25s {bm25s.__version__} ({retriever.backend}) retrieve, {len(queries)} queries,"
              f" k=1000, {n} thread(s): wall {statistics.median(walls):.4f} s,"
              f" CPU {statistics.median(cpus):.4f} s (median of {repeats})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?")
    parser.add_argument("--beir")
    parser.add_argument("--index-dir")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--k", default="10,100,1000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--queries", type=int, default=None, help="first N queries of each set")
    parser.add_argument("--sets", default="common,mid,rare", help="query sets to measure")
    args = parser.parse_args()
    if args.beir:
        beir(args.beir, args.repeats, [int(n) for n in args.threads.split(",")])
        return
    index_dir = args.index_dir or os.path.join(args.data, "bm25s-index")
    stemmer = Stemmer.Stemmer("english")
    if os.path.exists(os.path.join(index_dir, "params.index.json")):
        t = time.time()
        retriever = bm25s.BM25.load(index_dir, mmap=False)
        retriever.backend = "numba"
        print(f"loaded bm25s index from {index_dir} in {time.time() - t:.1f} s"
              f" (peak RSS {peak_rss_mb()} MB)")
    else:
        _, texts = read_tsv(os.path.join(args.data, "collection.tsv"))
        t = time.time()
        tokens = bm25s.tokenize(texts, stopwords=STOP, stemmer=stemmer, show_progress=False)
        del texts
        tokenized = time.time() - t
        retriever = bm25s.BM25(method="lucene", k1=0.9, b=0.4, backend="numba")
        retriever.index(tokens, show_progress=False)
        del tokens
        total = time.time() - t
        print(f"bm25s {bm25s.__version__} index: {total:.1f} s (tokenize {tokenized:.1f} s),"
              f" peak RSS {peak_rss_mb()} MB")
        retriever.save(index_dir)
    print(f"backend {retriever.backend}, {retriever.scores['num_docs']} documents")
    ks = [int(k) for k in args.k.split(",")]
    threads = [int(n) for n in args.threads.split(",")]
    print("| query set | k | threads | queries/s (median of %d) | queries per CPU-second |" % args.repeats)
    print("|---|---:|---:|---:|---:|")
    for name in args.sets.split(","):
        _, queries = read_tsv(os.path.join(args.data, f"queries.{name}.tsv"), args.queries)
        q = bm25s.tokenize(queries, stopwords=STOP, stemmer=stemmer, show_progress=False)
        retriever.retrieve(q, k=10, show_progress=False, n_threads=1)  # warm-up (numba JIT)
        for k in ks:
            for n in threads:
                rates, cpu_rates = [], []
                for _ in range(args.repeats):
                    t, c = time.time(), time.process_time()
                    docs, scores = retriever.retrieve(q, k=k, show_progress=False, n_threads=n)
                    rates.append(len(queries) / (time.time() - t))
                    cpu_rates.append(len(queries) / (time.process_time() - c))
                print(f"| {name} | {k} | {n} | {statistics.median(rates):.1f} |"
                      f" {statistics.median(cpu_rates):.1f} |", flush=True)


if __name__ == "__main__":
    main()

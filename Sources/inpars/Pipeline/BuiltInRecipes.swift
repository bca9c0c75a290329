/// The built-in recipes (`inpars pipeline inpars-v1`, `--show inpars-v1`), as the YAML a user
/// saves and edits. Each is the published recipe with its sizes cut so that a 2-core CPU
/// finishes BEIR SciFact in hours; the comments say what the paper used and how to scale up
/// (Docs/pipeline.md has the table).
enum BuiltInRecipes {
    static let names = ["inpars-v1", "inpars-v2", "inpars-light"]

    static func text(_ name: String) -> String? {
        switch name {
        case "inpars-v1": return v1
        case "inpars-v2": return v2
        case "inpars-light": return light
        default: return nil
        }
    }

    private static let data = """
        corpus: beir/scifact          # any corpus.jsonl/TSV path, or beir/<name>
        queries: beir/scifact/test    # evaluation queries (the test split)
        qrels: beir/scifact/test

        """

    static let v1 = """
        # inpars-v1: InPars (Bonifacio et al. 2022), sized for a 2-core CPU on SciFact.
        # Paper: GPT-3 Curie, 100,000 documents -> top 10,000 queries, monoT5-220M/3B,
        # BM25 top-1000. Scale up: raise generate.max-generations and filter.keep together
        # (keep 10 %), rerank.depth to 1000, train.model to castorini/monot5-base-msmarco-10k.

        """ + data + """
        index: {}
        generate:
          model: Qwen/Qwen2.5-0.5B      # paper: GPT-3 Curie (or --api-base with a server)
          prompt: inpars                # the 3-shot "vanilla" prompt
          temperature: 0                # greedy, as the paper
          max-generations: 1000         # documents sampled (paper: 100,000)
          max-new-tokens: 32
        filter:
          strategy: scores              # mean token log-prob
          score: mean
          keep: 100                     # the top 10 % (paper: 10,000)
        triples:
          negatives: 1                  # one random BM25 negative per query
          depth: 1000                   # from the top 1000
        search:
          hits: 1000
        train:
          model: castorini/monot5-small-msmarco-100k   # paper: monoT5-220M (base) or 3B
          lr: 3e-4                      # constant, AdamW (InPars issue #21: what the code used)
          epochs: 1
          batch-size: 8
          max-length: 512
          eval-every: 10                # nDCG@10 on the BM25 run while training (monitoring)
          eval-depth: 10                # 300 queries × 10 documents per evaluation
        rerank:
          depth: 100                    # paper: 1000
          max-length: 512
        evaluate: {}

        """

    static let v2 = """
        # inpars-v2: InPars-v2 (Jeronymo et al. 2023), sized for a 2-core CPU on SciFact.
        # Paper: GPT-J-6B with the GBQ prompt, 100,000 documents -> top 10,000 by monoT5-3B,
        # monoT5-3B fine-tuned 156 steps at batch 128, BM25 top-1000. Scale up as inpars-v1, and
        # filter.model to castorini/monot5-3b-msmarco-10k.

        """ + data + """
        index: {}
        generate:
          model: Qwen/Qwen2.5-0.5B      # paper: GPT-J-6B
          prompt: inpars-gbq            # "good and bad questions"
          temperature: 0
          max-generations: 1000         # paper: 100,000
          max-new-tokens: 32
        filter:
          strategy: reranker            # monoT5 log P(true) of (query, source document)
          model: castorini/monot5-base-msmarco-10k     # paper: monoT5-3B
          keep: 100                     # paper: 10,000
        triples:
          negatives: 1
          depth: 1000
        search:
          hits: 1000
        train:
          model: castorini/monot5-small-msmarco-100k   # paper: monoT5-3B from its MS MARCO checkpoint
          lr: 1e-3                      # constant, as the v2 TPU gin
          epochs: 1
          batch-size: 8
          max-length: 512
          eval-every: 10
          eval-depth: 10                # 300 queries × 10 documents per evaluation
        rerank:
          depth: 100                    # paper: 1000
        evaluate: {}

        """

    static let light = """
        # inpars-light: InPars-light (Boytsov et al. 2024), sized for a 2-core CPU on SciFact.
        # Paper: BLOOM generator, mean log-prob plus consistency checking (the source document
        # must rank in the top 3), a MiniLM-L6 cross-encoder, BM25 top-100. Scale up:
        # generate.max-generations and filter.keep, or the cross-encoder (ERNIE, DeBERTa-v3).

        """ + data + """
        index: {}
        generate:
          model: Qwen/Qwen2.5-0.5B      # paper: BLOOM
          prompt: inpars
          temperature: 0
          max-generations: 1000
          max-new-tokens: 32
        filter:
          strategy: consistency         # source document within the top 3 of BM25
          consistency-ranker: bm25
          consistency-depth: 3
          score: mean                   # then ranked by mean log-prob
          keep: 200
        triples:
          negatives: 1
          depth: 100
        search:
          hits: 100                     # InPars-light reranks the top 100
        train:
          model: cross-encoder/ms-marco-MiniLM-L-6-v2  # MiniLM-L6 (30M)
          lr: 2e-5
          schedule: linear
          warmup-steps: 5
          weight-decay: 0.01
          epochs: 1
          batch-size: 16
          max-length: 256               # MiniLM is 2.5× faster at 256 than at 512 tokens
          eval-every: 10
          eval-depth: 10                # 300 queries × 10 documents per evaluation
        rerank:
          depth: 100
          max-length: 256
        evaluate: {}

        """
}

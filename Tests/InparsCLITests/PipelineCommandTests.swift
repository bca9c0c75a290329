import Foundation
import InparsTestSupport
import Testing

/// `inpars pipeline`: recipe checking, the stage runner (skip, rerun, resume after a kill) and
/// the report, on `Examples/pipeline/recipe.yaml` (the tiny corpus and the fixture T5).
@Suite struct PipelineCommandTests {
    static let example = TestPaths.repositoryRoot.appendingPathComponent("Examples/pipeline/recipe.yaml")
    static let tiny = TestPaths.repositoryRoot.appendingPathComponent("Examples/tiny")

    /// Runs `inpars pipeline` and requires success.
    @discardableResult
    static func pipeline(_ arguments: [String]) throws -> BuiltProducts.Result {
        let result = try BuiltProducts.run(["pipeline"] + arguments)
        try #require(result.status == 0, "inpars pipeline \(arguments): \(result.stderr)")
        return result
    }

    /// The stage lines of stderr: "stage 3/8 filter: rerunning: …" → ["filter": "rerunning: …"].
    static func stageLines(_ stderr: String) -> [String: String] {
        var lines: [String: String] = [:]
        for line in stderr.split(separator: "\n") where line.hasPrefix("stage ") {
            let words = line.split(separator: " ", maxSplits: 3).map(String.init)
            guard words.count == 4, words[2].hasSuffix(":") else { continue }
            let stage = String(words[2].dropLast())
            // Keep the first line of each stage (what it decided).
            if lines[stage] == nil { lines[stage] = words[3] }
        }
        return lines
    }

    /// A recipe file in `folder` with `text`.
    static func recipe(_ text: String, in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent("recipe.yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    static func file(_ url: URL) throws -> Data { try Data(contentsOf: url) }

    // MARK: Recipes

    @Test func recipeMistakesNameTheFileLineAndKey() throws {
        let folder = try TestPaths.temporaryDirectory("inpars-pipeline-recipe")
        defer { try? FileManager.default.removeItem(at: folder) }
        let base = """
            corpus: \(Self.tiny.path)/corpus.jsonl
            queries: \(Self.tiny.path)/queries.jsonl
            qrels: \(Self.tiny.path)/qrels.tsv
            generate:
              model: \(TestPaths.fixtures.path)/t5-tiny

            """
        let cases: [(String, String)] = [
            // unknown key, on line 6
            (base + "  max-generatons: 5\n", "recipe.yaml:6: unknown key 'max-generatons' in section 'generate'"),
            // wrong type
            (base + "  max_generations: many\n", "recipe.yaml:6: generate.max-generations:"),
            // a section that is not a mapping
            (base + "filter: 3\n", "recipe.yaml:6: section 'filter' must be a mapping"),
            // unknown top-level key
            (base + "corpsu: x\n", "recipe.yaml:6: unknown key 'corpsu' at the top level"),
            // a key the pipeline sets
            (base + "  output: x.jsonl\n", "recipe.yaml:6: generate.output is set by the pipeline"),
            // a list where one path belongs
            (base.replacingOccurrences(of: "corpus: \(Self.tiny.path)/corpus.jsonl", with: "corpus: [a, b]"),
             "recipe.yaml:1: 'corpus' must be one path or beir/<name>, not a list"),
            // a value missing: filter needs --strategy
            (base + "filter:\n  keep: 3\n", "recipe.yaml:6: section 'filter' needs 'strategy'"),
        ]
        for (text, expected) in cases {
            let url = try Self.recipe(text, in: folder)
            let result = try BuiltProducts.run([
                "pipeline", url.path, "--work", folder.appendingPathComponent("w").path, "--dry-run", "--no-estimate",
            ])
            #expect(result.status != 0, "accepted: \(text)")
            #expect(result.stderr.contains(url.deletingLastPathComponent().path + "/" + expected), "\(expected)\ngot: \(result.stderr)")
        }
        // A section a partial run does not reach is not needed (filter has no strategy here).
        let partial = try Self.recipe(base + "filter:\n  keep: 3\n", in: folder)
        let untilGenerate = try BuiltProducts.run([
            "pipeline", partial.path, "--work", folder.appendingPathComponent("w").path, "--dry-run",
            "--no-estimate", "--until", "generate",
        ])
        #expect(untilGenerate.status == 0, "\(untilGenerate.stderr)")
        #expect(untilGenerate.stdout.contains("2. generate: would run") && !untilGenerate.stdout.contains("3. filter"))
        // A missing required top-level value names the file.
        let noQrels = try Self.recipe(base.replacingOccurrences(of: "qrels: \(Self.tiny.path)/qrels.tsv\n", with: ""), in: folder)
        let missing = try BuiltProducts.run(["pipeline", noQrels.path, "--work", folder.path, "--dry-run", "--no-estimate"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("\(noQrels.path): 'qrels' is required"), "\(missing.stderr)")
        // A wrong --set names itself.
        let badSet = try BuiltProducts.run([
            "pipeline", Self.example.path, "--work", folder.path, "--dry-run", "--no-estimate", "--set", "generate.temprature=1",
        ])
        #expect(badSet.stderr.contains("--set generate.temprature=1: unknown key 'temprature'"), "\(badSet.stderr)")
    }

    @Test func underscoresAndSetOverridesReachTheCommandLines() throws {
        let folder = try TestPaths.temporaryDirectory("inpars-pipeline-set")
        defer { try? FileManager.default.removeItem(at: folder) }
        let work = folder.appendingPathComponent("w").path
        let plain = try Self.pipeline([Self.example.path, "--work", work, "--dry-run", "--no-estimate"]).stdout
        // The file's value (max-new-tokens: 8, written with dashes) and keep 6.
        #expect(plain.contains("--max-new-tokens 8"))
        #expect(plain.contains("--keep 6"))
        // --set wins over the file; underscores name the same flag; a top-level path too.
        let text = try Self.pipeline([
            Self.example.path, "--work", work, "--dry-run", "--no-estimate", "--set", "generate.max_new_tokens=5",
            "--set", "filter.keep=2", "--set", "queries=\(Self.tiny.path)/queries.jsonl",
        ]).stdout
        #expect(text.contains("--max-new-tokens 5") && !text.contains("--max-new-tokens 8"), "\(text)")
        #expect(text.contains("--keep 2") && !text.contains("--keep 6"))
        // A flag given as `true` is a bare flag, `false` leaves it out.
        let flags = try Self.pipeline([
            Self.example.path, "--work", work, "--dry-run", "--no-estimate", "--set", "filter.dedupe=true",
            "--set", "filter.skip_copied=false",
        ]).stdout
        #expect(flags.contains("--dedupe") && !flags.contains("--skip-copied"))
    }

    @Test func builtInRecipesPrintAsYAMLThatRunsAsAFile() throws {
        let folder = try TestPaths.temporaryDirectory("inpars-pipeline-show")
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["inpars-v1", "inpars-v2", "inpars-light"] {
            let shown = try Self.pipeline(["--show", name]).stdout
            #expect(shown.contains("corpus: beir/scifact"))
            let saved = try Self.recipe(shown, in: folder)
            // The saved file plans the same command lines as the built-in (the data swapped
            // for local files, so nothing is fetched).
            let data = [
                "--set", "corpus=\(Self.tiny.path)/corpus.jsonl", "--set", "queries=\(Self.tiny.path)/queries.jsonl",
                "--set", "qrels=\(Self.tiny.path)/qrels.tsv",
            ]
            let work = folder.appendingPathComponent("w").path
            let fromFile = try Self.pipeline([saved.path, "--work", work, "--dry-run", "--no-estimate"] + data).stdout
            let builtIn = try Self.pipeline([name, "--work", work, "--dry-run", "--no-estimate"] + data).stdout
            let commands = { (text: String) in text.split(separator: "\n").filter { $0.contains("inpars ") } }
            #expect(commands(fromFile) == commands(builtIn))
            #expect(commands(builtIn).count == 8)
        }
        let unknown = try BuiltProducts.run(["pipeline", "--show", "inpars-v9"])
        #expect(unknown.status == 64 && unknown.stderr.contains("inpars-v1, inpars-v2, inpars-light"))
    }

    // MARK: Running

    /// `metric<TAB>all<TAB>value` lines of `inpars evaluate`.
    static func evaluateLines(run: URL) throws -> [(String, String)] {
        let result = try BuiltProducts.run([
            "evaluate", "--qrels", Self.tiny.appendingPathComponent("qrels.tsv").path, "--run", run.path,
        ])
        try #require(result.status == 0, "\(result.stderr)")
        return result.stdout.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t").map(String.init)
            return fields.count == 3 && fields[0] != "queries" ? (fields[0], fields[2]) : nil
        }
    }

    @Test func theExampleRunsEndToEndSkipsWhenDoneAndRerunsWhatAChangeReaches() throws {
        let folder = try TestPaths.temporaryDirectory("inpars-pipeline-run")
        defer { try? FileManager.default.removeItem(at: folder) }
        let work = folder.appendingPathComponent("w")
        let first = try Self.pipeline([Self.example.path, "--work", work.path])
        #expect(Self.stageLines(first.stderr).values.allSatisfy { $0 == "first run" })
        #expect(Self.stageLines(first.stderr).count == 8)

        // The report's metrics are `inpars evaluate`'s, digit for digit, for both runs.
        let report = try String(contentsOf: work.appendingPathComponent("report.md"), encoding: .utf8)
        let bm25 = try Self.evaluateLines(run: work.appendingPathComponent("search/run.trec"))
        let reranked = try Self.evaluateLines(run: work.appendingPathComponent("rerank/run.trec"))
        #expect(bm25.map(\.0) == ["ndcg@10", "mrr@10", "map", "recall@100", "recall@1000", "p@10", "judged@10"])
        for ((metric, before), (_, after)) in zip(bm25, reranked) {
            let difference = (Double(after)! - Double(before)!)
            let text = (difference > 0 ? "+" : "") + String(format: "%.4f", difference)
            #expect(report.contains("| \(metric) | \(before) | \(after) | \(text) |"), "\(metric)")
        }
        // The HTML stands alone: inline SVG charts, nothing fetched.
        let html = try String(contentsOf: work.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.components(separatedBy: "<svg").count - 1 == 4)
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("href="))
        #expect(html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "").range(of: "http") == nil)
        // The training curve: 4 steps logged, evaluations at 0, 2 and 4.
        #expect(report.contains("at step 1 →") && report.contains("at step 4."))
        #expect(report.contains("Eval nDCG@10 by step: 0: "))
        // Kept and dropped: 13 generated, 6 kept, 7 dropped.
        #expect(report.contains("- kept: 6 queries") && report.contains("- dropped: 7 queries"))

        // A rerun skips every stage and leaves every output as it was.
        let products = [
            "generate/queries.jsonl", "filter/queries.jsonl", "triples/triples.tsv", "search/run.trec",
            "train/model/final/model.safetensors", "rerank/run.trec",
        ].map { work.appendingPathComponent($0) }
        let before = try products.map(Self.file)
        let second = try Self.pipeline([Self.example.path, "--work", work.path])
        let decisions = Self.stageLines(second.stderr)
        #expect(decisions.count == 8 && decisions.values.allSatisfy { $0.hasPrefix("done earlier, skipped") })
        #expect(try products.map(Self.file) == before)

        // keep_top_k changed: filter and everything that reads its output reruns; generate,
        // index and search do not.
        let third = try Self.pipeline([Self.example.path, "--work", work.path, "--set", "filter.keep_top_k=4"])
        let after = Self.stageLines(third.stderr)
        for stage in ["index", "generate", "search"] { #expect(after[stage]?.hasPrefix("done earlier") == true, "\(stage)") }
        #expect(after["filter"]?.hasPrefix("rerunning: its options changed (--keep-top-k unset → 4)") == true)
        for stage in ["triples", "train", "rerank", "evaluate"] {
            #expect(after[stage]?.hasPrefix("rerunning: an input changed") == true, "\(stage): \(after[stage] ?? "")")
        }
        #expect(try Self.file(products[0]) == before[0])
        #expect(try String(contentsOf: products[1], encoding: .utf8).split(separator: "\n").count == 4)

        // --from reruns that stage and the later ones; --until stops.
        let fourth = try Self.pipeline([
            Self.example.path, "--work", work.path, "--set", "filter.keep_top_k=4", "--from", "rerank", "--until", "rerank",
        ])
        let partial = Self.stageLines(fourth.stderr)
        #expect(partial.count == 7 && partial["rerank"] == "rerunning (--from)")
        #expect(partial["train"]?.hasPrefix("before --from, kept") == true)
    }

    @Test func aPipelineKilledDuringTrainResumesWithoutRedoingEarlierStages() throws {
        let folder = try TestPaths.temporaryDirectory("inpars-pipeline-kill")
        defer { try? FileManager.default.removeItem(at: folder) }
        let longer = ["--set", "train.steps=8", "--set", "train.eval-every=4"]
        let reference = folder.appendingPathComponent("reference")
        try Self.pipeline([Self.example.path, "--work", reference.path] + longer)

        let work = folder.appendingPathComponent("w")
        let running = try RunningProduct(["pipeline", Self.example.path, "--work", work.path] + longer)
        // Checkpoints are saved every step; the evaluation at step 4 is half-way.
        let reachedTraining = running.waitForStderr { $0.contains("eval at step 4:") }
        running.send(SIGKILL)
        _ = running.wait()
        try #require(reachedTraining, "the pipeline never reached step 4 of training")
        let earlier = ["generate/queries.jsonl", "filter/queries.jsonl", "triples/triples.tsv", "search/run.trec"]
            .map { work.appendingPathComponent($0) }
        let earlierBytes = try earlier.map(Self.file)
        let earlierDates = try earlier.map { try FileManager.default.attributesOfItem(atPath: $0.path)[.modificationDate] as? Date }

        let resumed = try Self.pipeline([Self.example.path, "--work", work.path] + longer)
        let decisions = Self.stageLines(resumed.stderr)
        for stage in ["index", "generate", "filter", "triples", "search"] {
            #expect(decisions[stage]?.hasPrefix("done earlier, skipped") == true, "\(stage)")
        }
        #expect(decisions["train"] == "resuming an interrupted run")
        #expect(resumed.stderr.contains("resum"))
        #expect(try earlier.map(Self.file) == earlierBytes)
        #expect(try earlier.map { try FileManager.default.attributesOfItem(atPath: $0.path)[.modificationDate] as? Date } == earlierDates)
        // The same final model and reranked run as the uninterrupted pipeline.
        for path in ["train/model/final/model.safetensors", "rerank/run.trec", "evaluate/rerank.tsv"] {
            #expect(
                try Self.file(work.appendingPathComponent(path)) == Self.file(reference.appendingPathComponent(path)),
                "\(path)")
        }
    }
    /// (doc_id, query) of each row of a JSONL file.
    static func generations(_ url: URL) throws -> [String] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { line in
            let row = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return "\(row["doc_id"] ?? "")\t\(row["query"] ?? "")"
        }
    }

    /// A generator named by Hub id is an input: the same cached snapshot, offline, skips its
    /// stage; a newer snapshot of its branch (after `inpars download`) reruns it.
    @Test func aNewerHubSnapshotOfTheModelRerunsItsStage() throws {
        let tiny = TestPaths.fixtures.appendingPathComponent("t5-tiny")
        let folder = try TestPaths.temporaryDirectory("inpars-pipeline-hub")
        defer { try? FileManager.default.removeItem(at: folder) }
        func environment(_ extra: [String: String]) -> [String: String] {
            [
                "HOME": folder.path, "HF_HUB_CACHE": folder.appendingPathComponent("hf").path,
                "INPARS_CACHE": folder.appendingPathComponent("inpars").path,
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            ].merging(extra) { _, new in new }
        }
        let arguments = [
            "pipeline", Self.example.path, "--work", folder.appendingPathComponent("w").path,
            "--set", "generate.model=loopback-org/t5-tiny", "--until", "generate",
        ]
        let first = try LoopbackHub(repo: "loopback-org/t5-tiny", folder: tiny)
        let run = try BuiltProducts.run(arguments, environment: environment(["HF_ENDPOINT": first.endpoint]))
        #expect(run.status == 0, "\(run.stderr)")
        first.hub.stop()
        first.cdn.stop()
        let again = try BuiltProducts.run(arguments, environment: environment(["HF_HUB_OFFLINE": "1"]))
        #expect(again.status == 0, "\(again.stderr)")
        #expect(Self.stageLines(again.stderr)["generate"]?.hasPrefix("done earlier") == true, "\(again.stderr)")

        // Upstream, the branch moves to a commit whose config.json differs (by a newline).
        var files = first.files
        files["config.json"]!.append(0x0A)
        let second = try LoopbackHub(
            repo: "loopback-org/t5-tiny", files: files, commit: String(repeating: "fe", count: 20))
        let download = try BuiltProducts.run(
            ["download", "loopback-org/t5-tiny"], environment: environment(["HF_ENDPOINT": second.endpoint]))
        #expect(download.status == 0, "\(download.stderr)")
        let moved = try BuiltProducts.run(arguments, environment: environment(["HF_HUB_OFFLINE": "1"]))
        #expect(moved.status == 0, "\(moved.stderr)")
        let decisions = Self.stageLines(moved.stderr)
        #expect(decisions["index"]?.hasPrefix("done earlier") == true)
        #expect(
            decisions["generate"]?.hasPrefix("rerunning: an input changed") == true
                && decisions["generate"]?.contains(String(repeating: "fe", count: 20)) == true,
            "\(decisions)")
    }

    /// A reranker filter's rounds apply its rules without the model (its scores only rank, and
    /// a round cuts nothing by rank), so only the filter stage runs the reranker.
    @Test func budgetedRoundsOfARerankerFilterRunNoModel() throws {
        let folder = try TestPaths.temporaryDirectory("inpars-pipeline-budget-reranker")
        defer { try? FileManager.default.removeItem(at: folder) }
        let work = folder.appendingPathComponent("w")
        let model = TestPaths.repositoryRoot.appendingPathComponent("Tests/Fixtures/t5-tiny").path
        let result = try Self.pipeline([
            Self.example.path, "--work", work.path, "--set", "generate.target_queries=5",
            "--set", "generate.round-size=4", "--set", "filter.strategy=reranker",
            "--set", "filter.model=\(model)", "--until", "filter",
        ])
        #expect(result.stderr.contains("generate: after round 2: 6 of 6 generated queries passed the filter (target 5)"))
        func rows(_ path: String) throws -> [(score: Double, meanLogProb: Double)] {
            try String(contentsOf: work.appendingPathComponent(path), encoding: .utf8)
                .split(separator: "\n").map { line in
                    let row = try #require(
                        JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                    let logProbs = try #require(row["log_probs"] as? [Double])
                    let score = try #require(row["score"] as? Double)
                    return (score, logProbs.reduce(0, +) / Double(logProbs.count))
                }
        }
        // A round's rows carry the mean of their own log-probs (the rules-only `scores` form)…
        let round = try rows("generate/rounds/round-0.filtered.jsonl")
        #expect(!round.isEmpty)
        for row in round { #expect(abs(row.score - row.meanLogProb) <= 1e-9 * max(1, abs(row.meanLogProb))) }
        // … and the filter stage's rows the reranker's log P(true), which is another number.
        let kept = try rows("filter/queries.jsonl")
        #expect(kept.count == 6)
        for row in kept { #expect(abs(row.score - row.meanLogProb) > 1e-6, "\(row)") }
    }

    @Test func budgetedGenerationStopsOnceTheTargetPassesTheFilter() throws {
        let folder = try TestPaths.temporaryDirectory("inpars-pipeline-budget")
        defer { try? FileManager.default.removeItem(at: folder) }
        let full = folder.appendingPathComponent("full")
        try Self.pipeline([Self.example.path, "--work", full.path, "--until", "generate"])
        let work = folder.appendingPathComponent("w")
        let budget = ["--set", "generate.target_queries=5", "--set", "generate.round-size=4", "--until", "filter"]
        let result = try Self.pipeline([Self.example.path, "--work", work.path] + budget)
        // 13 documents in rounds of about 4 (blocks 0..<3, 3..<6, …): after two rounds 6 queries
        // have passed (every generated query passes the example's filter rules), ≥ 5.
        #expect(result.stderr.contains("generate: after round 2: 6 of 6 generated queries passed the filter (target 5)"))
        #expect(!result.stderr.contains("round 3 of"))
        // The pipeline joins the rounds itself: no round tells the user to run 'inpars merge'.
        #expect(result.stderr.contains("(shard 1/4)") && !result.stderr.contains("inpars merge"))
        // The rounds are the first blocks of the same sample a single run draws.
        let generated = try Self.generations(work.appendingPathComponent("generate/queries.jsonl"))
        #expect(generated == Array(try Self.generations(full.appendingPathComponent("generate/queries.jsonl")).prefix(6)))
        let report = try String(contentsOf: work.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(report.contains("6 queries generated in 2 of at most 4 rounds for 6 passing the filter (target 5)"))
        // The filter stage ranks the 6 and keeps its 6; rerunning skips everything.
        #expect(try Self.generations(work.appendingPathComponent("filter/queries.jsonl")).count == 6)
        let again = try Self.pipeline([Self.example.path, "--work", work.path] + budget)
        #expect(Self.stageLines(again.stderr).values.allSatisfy { $0.hasPrefix("done earlier") })
        // A new target reruns generation (and what follows), not the index.
        let more = try Self.pipeline([Self.example.path, "--work", work.path, "--set", "generate.target-queries=8", "--set", "generate.round-size=4", "--until", "filter"])
        let decisions = Self.stageLines(more.stderr)
        #expect(decisions["index"]?.hasPrefix("done earlier") == true)
        #expect(decisions["generate"]?.hasPrefix("rerunning: its options changed") == true, "\(decisions)")
        #expect(try Self.generations(work.appendingPathComponent("generate/queries.jsonl")).count == 9)
    }
    @Test func dryRunTimesASampleOfEachModelStageAndWritesNothing() throws {
        let folder = try TestPaths.temporaryDirectory("inpars-pipeline-dry")
        defer { try? FileManager.default.removeItem(at: folder) }
        let work = folder.appendingPathComponent("w")
        let text = try Self.pipeline([Self.example.path, "--work", work.path, "--dry-run"]).stdout
        let times = text.split(separator: "\n").filter { $0.hasPrefix("   time: ") }
        #expect(times.count == 4, "\(text)")
        // Each model stage is sampled twice, the second sample twice the first, so the model
        // load cancels from the rate: "(4 and 8 documents took A and B: R a document after F of
        // loading, × 13 documents)", and the estimate is F + 13 R.
        #expect(text.contains("(4 and 8 documents took "), "\(text)")
        #expect(text.contains(" a document after ") && text.contains(" of loading, × 13 documents)"))
        #expect(text.contains("seconds (no model: scores"))
        #expect(text.contains("(2 and 4 steps took ") && text.contains(", × 4 steps;"))
        // Rerank: 2 queries × 5 and × 10 documents (the search hits), scaled to 6 judged
        // queries × 10.
        #expect(text.contains("(10 and 20 pairs took ") && text.contains(", × 60 pairs with "))
        #expect(!FileManager.default.fileExists(atPath: work.path))
        // After a run, a changed train stage reruns, and so do the stages that read its output.
        try Self.pipeline([Self.example.path, "--work", work.path])
        let plan = try Self.pipeline([
            Self.example.path, "--work", work.path, "--dry-run", "--no-estimate", "--set", "train.lr=1e-4",
        ]).stdout
        #expect(plan.contains("5. search: done, would skip"))
        #expect(plan.contains("6. train: would run: rerunning: its options changed (--lr unset → 1e-4)"))
        #expect(plan.contains("7. rerank: would rerun after the stage that writes \(work.path)/train/model/final"))
    }
    @Test func ctrlCDuringTrainSavesACheckpointAndTheRerunResumes() throws {
        let folder = try TestPaths.temporaryDirectory("inpars-pipeline-sigint")
        defer { try? FileManager.default.removeItem(at: folder) }
        let work = folder.appendingPathComponent("w")
        let longer = ["--set", "train.steps=40", "--set", "train.eval-every=4"]
        let running = try RunningProduct(["pipeline", Self.example.path, "--work", work.path] + longer)
        let reached = running.waitForStderr { $0.contains("eval at step 4:") }
        running.send(SIGINT)
        let result = running.wait()
        try #require(reached, "the pipeline never reached step 4 of training")
        // train's own Ctrl-C: a checkpoint after the current step, exit 130.
        #expect(result.status == 130, "\(result.stderr)")
        #expect(result.stderr.contains("interrupt: saving a checkpoint"))
        #expect(!result.stderr.contains("stage 7/8"))
        let resumed = try Self.pipeline([Self.example.path, "--work", work.path] + longer)
        #expect(Self.stageLines(resumed.stderr)["train"] == "resuming an interrupted run")
        #expect(resumed.stderr.contains("trained 40 steps") || resumed.stderr.contains("step 40/40"))
    }
}

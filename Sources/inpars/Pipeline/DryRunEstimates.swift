import Foundation
import InparsCore
import InparsHub

/// `--dry-run` estimates for the stages that run models (generate, a model filter, train,
/// rerank): each runs its command twice in a temporary folder, on a small sample and on one
/// twice its size, timed. The difference is the cost of the added work, so loading the model
/// and other fixed costs cancel from the rate; the estimate is those fixed seconds plus the
/// rate times the work the recipe asks for (``Fit``), and its text says what it came from.
/// The other stages (index, triples, search, evaluate, a log-prob filter) take seconds to
/// minutes on BEIR-size corpora and are not sampled.
struct DryRunEstimates {
    let plan: PipelinePlan
    let sink: ProgressSink

    /// Documents generated for in the small sample (the large one has twice as many).
    static let sampleDocuments = 4
    /// Queries and documents per query of the large rerank sample (the small one reranks
    /// half as many documents per query).
    static let sampleQueries = 2
    static let sampleDepth = 16
    /// Optimizer steps of the small training sample.
    static let sampleSteps = 2

    /// Two timed samples, the large about twice the small, and what they imply.
    struct Fit {
        var items: (small: Int, large: Int)
        var seconds: (small: Double, large: Double)

        /// Seconds per item: the difference of the two samples over the difference of their
        /// sizes, so what does not grow with the work (loading the model) cancels. When the
        /// sizes are equal (a tiny corpus) or noise makes the difference ≤ 0, the large
        /// sample's mean per item, which errs long.
        var perItem: Double {
            let added = items.large - items.small
            let slope = added > 0 ? (seconds.large - seconds.small) / Double(added) : 0
            return slope > 0 ? slope : seconds.large / Double(max(1, items.large))
        }

        /// Seconds that do not grow with the work (the model load, start-up).
        var fixed: Double { max(0, seconds.large - perItem * Double(items.large)) }

        /// The estimate for `count` items.
        func seconds(for count: Int) -> Double { fixed + perItem * Double(count) }

        /// "4 and 8 documents took 9.0 s and 12.0 s: 0.8 s a document after 6.0 s of loading".
        func measured(unit: String, units: String) -> String {
            let d = Self.short
            return "\(items.small) and \(items.large) \(units) took \(d(seconds.small)) and"
                + " \(d(seconds.large)): \(d(perItem)) a \(unit) after \(d(fixed)) of loading"
        }

        /// A sample's seconds: milliseconds below 0.1 s, two decimals below 1 s, else as
        /// ``StageManifest/duration(_:)``.
        static func short(_ seconds: Double) -> String {
            if seconds < 0.1 { return formatFixed(seconds * 1000, decimals: 1) + " ms" }
            if seconds < 1 { return formatFixed(seconds, decimals: 2) + " s" }
            return StageManifest.duration(seconds)
        }

        /// "≈ 3.1 min (4 and 8 documents took …, × 200 documents)".
        func estimate(_ count: Int, unit: String, units: String, extra: String = "") -> String {
            "≈ \(StageManifest.duration(seconds(for: count))) (\(measured(unit: unit, units: units)),"
                + " × \(count) \(units)\(extra))"
        }
    }

    /// Runs `sample(false)` then `sample(true)` (the small and the large sample); each returns
    /// the items it processed and is timed.
    static func fit(_ sample: (_ large: Bool) async throws -> Int) async throws -> Fit {
        var items = (small: 0, large: 0)
        let small = try await timed { items.small = try await sample(false) }
        let large = try await timed { items.large = try await sample(true) }
        return Fit(items: items, seconds: (small, large))
    }

    /// What the samples share: the temporary folder, the stage plans, the corpus, and the
    /// sizes of the real run the samples are scaled to.
    private struct Context {
        let folder: URL
        let stages: [PipelineStage: StagePlan]
        let documents: [Document]
        /// The generate sample's output (the other samples' queries).
        let sampleQueries: URL
        /// Documents the real run generates for, and the rows it writes.
        var sampled = 0
        var generatedRows = 0
    }

    /// One line per stage, keyed by stage.
    func estimate(_ stages: [StagePlan]) async throws -> [PipelineStage: String] {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("inpars-dry-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let byStage = Dictionary(uniqueKeysWithValues: plan.stages.map { ($0.stage, $0) })
        var context = Context(
            folder: folder, stages: byStage,
            documents: try CorpusReader.read(try byStage[.index]!.inputs[0].url()).documents,
            sampleQueries: folder.appendingPathComponent("generated.jsonl"))
        let wanted = Set(stages.map(\.stage))
        var result: [PipelineStage: String] = [:]
        // The generate sample always runs: the other samples read its queries.
        sink.emit("dry run: sampling generate", transient: false)
        let generate = try await generateEstimate(&context)
        if wanted.contains(.generate) { result[.generate] = generate }
        if wanted.contains(.filter) { result[.filter] = try await filterEstimate(context) }
        if wanted.contains(.train) {
            sink.emit("dry run: sampling train", transient: false)
            result[.train] = try await trainEstimate(context)
        }
        if wanted.contains(.rerank) {
            sink.emit("dry run: sampling rerank", transient: false)
            result[.rerank] = try await rerankEstimate(context)
        }
        return result
    }

    /// generate: a few documents, then twice as many, scaled to the sample the recipe draws.
    private func generateEstimate(_ context: inout Context) async throws -> String {
        let stagePlan = context.stages[.generate]!
        let available = context.documents.count
        let folder = context.folder
        let fit = try await Self.fit { large in
            let documents = min(available, Self.sampleDocuments * (large ? 2 : 1))
            let output = large ? context.sampleQueries : folder.appendingPathComponent("small.jsonl")
            let generate = try GenerateCommand.parse(
                Self.replacing(stagePlan.arguments, [
                    ("--output", output.path), ("--max-generations", "\(documents)"),
                ]))
            try await generate.run()
            return documents
        }
        let full = try GenerateCommand.parse(stagePlan.arguments)
        context.sampled = min(full.maxGenerations, context.documents.count)
        context.generatedRows = context.sampled * full.numQueriesPerDoc
        return stagePlan.roundFilterArguments != nil
            ? "\(Fit.short(fit.perItem)) a document (\(fit.measured(unit: "document", units: "documents")));"
                + " budgeted, so the number of rounds decides"
            : fit.estimate(context.sampled, unit: "document", units: "documents")
    }

    /// filter: only the model strategies are costly.
    private func filterEstimate(_ context: Context) async throws -> String {
        let stagePlan = context.stages[.filter]!
        let filter = try FilterCommand.parse(stagePlan.arguments)
        guard filter.usesModel else {
            return "seconds (no model: \(filter.strategy.rawValue) with BM25 or log-probs)"
        }
        // The small sample is the first half of the generate sample's queries.
        let lines = ((try? String(contentsOf: context.sampleQueries, encoding: .utf8)) ?? "")
            .split(separator: "\n")
        let half = context.folder.appendingPathComponent("half.jsonl")
        try Data(lines.prefix(max(1, lines.count / 2)).map { $0 + "\n" }.joined().utf8).write(to: half)
        let folder = context.folder
        let fit = try await Self.fit { large in
            let input = large ? context.sampleQueries : half
            let sample = try FilterCommand.parse(
                Self.replacing(stagePlan.arguments, [
                    ("--input", input.path),
                    ("--output", folder.appendingPathComponent(large ? "filtered.jsonl" : "half-filtered.jsonl").path),
                ]))
            try sample.run()
            return StageCounts.lines(input.path)
        }
        return fit.estimate(context.generatedRows, unit: "query", units: "queries")
    }

    /// train: a few steps on triples of the sample queries (what the documents are does not
    /// change the cost, only their length).
    private func trainEstimate(_ context: Context) async throws -> String {
        let filter = try FilterCommand.parse(context.stages[.filter]!.arguments)
        let negatives = try TriplesCommand.parse(context.stages[.triples]!.arguments).negatives
        let kept = filter.keepTopK == 0 ? context.generatedRows : min(context.generatedRows, filter.keepTopK)
        let expectedTriples = kept * negatives
        let stagePlan = context.stages[.train]!
        let train = try TrainCommand.parse(stagePlan.arguments)
        let examplesPerStep = train.batch.batchSize * train.gradAccum
        let triples = context.folder.appendingPathComponent("triples.tsv")
        try Self.writeTriples(
            from: context.sampleQueries, documents: context.documents,
            count: 2 * Self.sampleSteps * examplesPerStep, to: triples)
        let folder = context.folder
        let fit = try await Self.fit { large in
            let steps = Self.sampleSteps * (large ? 2 : 1)
            let sample = try TrainCommand.parse(
                Self.replacing(Self.withoutEvaluation(stagePlan.arguments), [
                    ("--triples", triples.path),
                    ("--output", folder.appendingPathComponent(large ? "model" : "model-small").path),
                ]).filter { $0 != "--keep-best" } + ["--steps", "\(steps)"])
            try sample.run()
            return steps
        }
        let steps = train.steps
            ?? max(1, Int((train.epochs ?? 1) * Double(expectedTriples * 2) / Double(examplesPerStep)))
        return fit.estimate(
            steps, unit: "step", units: "steps",
            extra: (train.steps == nil ? " for about \(expectedTriples) triples" : "")
                + (train.evalEvery != nil ? "; evaluations during training not included" : ""))
    }

    /// rerank: the train stage's starting model (the trained model has its size) on a small
    /// run, scaled to the judged queries × depth.
    private func rerankEstimate(_ context: Context) async throws -> String {
        let stagePlan = context.stages[.rerank]!
        let searchPlan = context.stages[.search]!
        let rerank = try RerankCommand.parse(stagePlan.arguments)
        let hits = try SearchCommand.parse(searchPlan.arguments).k
        let startingModel = try TrainCommand.parse(context.stages[.train]!.arguments).model.model
        let judged = try Qrels.read(try searchPlan.inputs[2].url()).judgments.count
        let queries = try QueryReader.read(try searchPlan.inputs[1].url()).queries
        let largeDepth = min(rerank.rerankDepth, hits, Self.sampleDepth, context.documents.count)
        let (documents, folder) = (context.documents, context.folder)
        let fit = try await Self.fit { large in
            let depth = large ? largeDepth : max(1, largeDepth / 2)
            let run = folder.appendingPathComponent("sample-\(depth).trec")
            var lines = ""
            for query in queries.prefix(Self.sampleQueries) {
                for (rank, document) in documents.prefix(depth).enumerated() {
                    lines += "\(query.id) Q0 \(document.id) \(rank + 1) \(Double(depth - rank)) sample\n"
                }
            }
            try Data(lines.utf8).write(to: run)
            let sample = try RerankCommand.parse(
                Self.replacing(stagePlan.arguments, [
                    ("--model", startingModel), ("--run", run.path),
                    ("--output", folder.appendingPathComponent("reranked-\(depth).trec").path),
                ]))
            try sample.run()
            return min(queries.count, Self.sampleQueries) * depth
        }
        let total = judged * min(rerank.rerankDepth, hits)
        return fit.estimate(total, unit: "pair", units: "pairs", extra: " with \(startingModel)")
    }

    /// Runs `body` and returns its wall time in seconds.
    static func timed(_ body: () async throws -> Void) async throws -> Double {
        let started = Date()
        try await body()
        return Date().timeIntervalSince(started)
    }

    /// `arguments` with each flag's value replaced (or the flag added).
    static func replacing(_ arguments: [String], _ values: [(String, String)]) -> [String] {
        var result = arguments
        for (flag, value) in values {
            if let at = result.firstIndex(of: flag), at + 1 < result.count {
                result[at + 1] = value
            } else {
                result += [flag, value]
            }
        }
        return result
    }

    /// Train's arguments without the evaluation files and flags.
    static func withoutEvaluation(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let flag = arguments[index]
            if flag.hasPrefix("--eval-") || flag == "--steps" || flag == "--epochs" || flag == "--save-every" {
                index += 2
            } else {
                result.append(flag)
                index += 1
            }
        }
        return result
    }

    /// `count` triples: each sample query with its source document and another document.
    static func writeTriples(from queries: URL, documents: [Document], count: Int, to url: URL) throws {
        let position = Dictionary(documents.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        var rows: [String] = []
        let text = (try? String(contentsOf: queries, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            guard let row = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let query = row["query"] as? String, let id = row["doc_id"] as? String, let at = position[id]
            else { continue }
            let clean = { (s: String) in s.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ") }
            let other = documents[(at + 1) % documents.count]
            rows.append([clean(query), clean(documents[at].rerankText), clean(other.rerankText)].joined(separator: "\t"))
        }
        if rows.isEmpty, let first = documents.first {
            rows = ["sample query\t\(first.rerankText)\t\((documents.last ?? first).rerankText)"]
        }
        let repeated = (0..<max(count, 1)).map { rows[$0 % rows.count] }
        try Data((repeated.joined(separator: "\n") + "\n").utf8).write(to: url)
    }
}

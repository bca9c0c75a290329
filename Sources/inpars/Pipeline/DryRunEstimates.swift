import Foundation
import InparsCore
import InparsHub

/// `--dry-run` estimates for the stages that run models (generate, a model filter, train,
/// rerank): each runs its command on a small sample in a temporary folder, timed, and the
/// time is scaled by the work the recipe asks for. Each estimate says what it was scaled from;
/// the samples include loading the model once, so short stages are over-estimated.
/// The other stages (index, triples, search, evaluate, a log-prob filter) take seconds to
/// minutes on BEIR-size corpora and are not sampled.
struct DryRunEstimates {
    let plan: PipelinePlan
    let sink: ProgressSink

    /// Documents generated for in the sample.
    static let sampleDocuments = 4
    /// Queries and documents per query of the rerank sample.
    static let sampleQueries = 2
    static let sampleDepth = 16
    /// Optimizer steps of the training sample.
    static let sampleSteps = 2

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

    /// generate: a few documents, scaled to the sample the recipe draws.
    private func generateEstimate(_ context: inout Context) async throws -> String {
        let stagePlan = context.stages[.generate]!
        var generate = try GenerateCommand.parse(
            Self.replacing(stagePlan.arguments, [
                ("--output", context.sampleQueries.path), ("--max-generations", "\(Self.sampleDocuments)"),
            ]))
        let seconds = try await Self.timed { try await generate.run() }
        let full = try GenerateCommand.parse(stagePlan.arguments)
        context.sampled = min(full.maxGenerations, context.documents.count)
        context.generatedRows = context.sampled * full.numQueriesPerDoc
        let perDocument = seconds / Double(max(1, min(Self.sampleDocuments, context.documents.count)))
        let sample = "\(Self.sampleDocuments) documents took \(StageManifest.duration(seconds))"
        return stagePlan.roundFilterArguments != nil
            ? "≈ \(StageManifest.duration(perDocument)) per document (\(sample)); budgeted, so the number of rounds decides"
            : "≈ \(StageManifest.duration(perDocument * Double(context.sampled))) (\(sample), × \(context.sampled) documents)"
    }

    /// filter: only the model strategies are costly.
    private func filterEstimate(_ context: Context) async throws -> String {
        let stagePlan = context.stages[.filter]!
        let filter = try FilterCommand.parse(stagePlan.arguments)
        guard filter.usesModel else {
            return "seconds (no model: \(filter.strategy.rawValue) with BM25 or log-probs)"
        }
        var sample = try FilterCommand.parse(
            Self.replacing(stagePlan.arguments, [
                ("--input", context.sampleQueries.path),
                ("--output", context.folder.appendingPathComponent("filtered.jsonl").path),
            ]))
        let seconds = try await Self.timed { try sample.run() }
        let rows = max(1, StageCounts.lines(context.sampleQueries.path))
        return "≈ \(StageManifest.duration(seconds / Double(rows) * Double(context.generatedRows))) (\(rows) queries took \(StageManifest.duration(seconds)), × \(context.generatedRows) queries)"
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
            count: Self.sampleSteps * examplesPerStep, to: triples)
        var sample = try TrainCommand.parse(
            Self.replacing(Self.withoutEvaluation(stagePlan.arguments), [
                ("--triples", triples.path), ("--output", context.folder.appendingPathComponent("model").path),
            ]).filter { $0 != "--keep-best" } + ["--steps", "\(Self.sampleSteps)"])
        let seconds = try await Self.timed { try sample.run() }
        let steps = train.steps
            ?? max(1, Int((train.epochs ?? 1) * Double(expectedTriples * 2) / Double(examplesPerStep)))
        return "≈ \(StageManifest.duration(seconds / Double(Self.sampleSteps) * Double(steps))) (\(Self.sampleSteps) steps took \(StageManifest.duration(seconds)), × \(steps) steps"
            + (train.steps == nil ? " for about \(expectedTriples) triples" : "")
            + (train.evalEvery != nil ? "; evaluations during training not included" : "") + ")"
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
        let depth = min(rerank.rerankDepth, hits, Self.sampleDepth, context.documents.count)
        let run = context.folder.appendingPathComponent("sample.trec")
        var lines = ""
        for query in queries.prefix(Self.sampleQueries) {
            for (rank, document) in context.documents.prefix(depth).enumerated() {
                lines += "\(query.id) Q0 \(document.id) \(rank + 1) \(Double(depth - rank)) sample\n"
            }
        }
        try Data(lines.utf8).write(to: run)
        var sample = try RerankCommand.parse(
            Self.replacing(stagePlan.arguments, [
                ("--model", startingModel), ("--run", run.path),
                ("--output", context.folder.appendingPathComponent("reranked.trec").path),
            ]))
        let seconds = try await Self.timed { try sample.run() }
        let pairs = max(1, min(queries.count, Self.sampleQueries) * depth)
        let total = judged * min(rerank.rerankDepth, hits)
        return "≈ \(StageManifest.duration(seconds / Double(pairs) * Double(total))) (\(pairs) pairs took \(StageManifest.duration(seconds)) with \(startingModel), × \(total) pairs)"
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

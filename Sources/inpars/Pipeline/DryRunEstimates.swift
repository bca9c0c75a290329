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

    /// One line per stage, keyed by stage.
    func estimate(_ stages: [StagePlan]) async throws -> [PipelineStage: String] {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("inpars-dry-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let byStage = Dictionary(uniqueKeysWithValues: plan.stages.map { ($0.stage, $0) })
        let wanted = Set(stages.map(\.stage))
        let documents = try CorpusReader.read(try byStage[.index]!.inputs[0].url()).documents
        var result: [PipelineStage: String] = [:]

        // generate: S documents, scaled to the sample the recipe draws.
        guard let generatePlan = byStage[.generate] else { return result }
        let sampleQueries = folder.appendingPathComponent("generated.jsonl")
        var generate = try GenerateCommand.parse(
            Self.replacing(generatePlan.arguments, [("--output", sampleQueries.path), ("--max-generations", "\(Self.sampleDocuments)")]))
        let generateSeconds = try await Self.timed { try await generate.run() }
        let full = try GenerateCommand.parse(generatePlan.arguments)
        let sampled = min(full.maxGenerations, documents.count)
        let perDocument = generateSeconds / Double(min(Self.sampleDocuments, documents.count))
        if wanted.contains(.generate) {
            result[.generate] =
                generatePlan.roundFilterArguments != nil
                ? "≈ \(StageManifest.duration(perDocument)) per document (from \(Self.sampleDocuments) documents in \(StageManifest.duration(generateSeconds))); budgeted, so the number of rounds decides"
                : "≈ \(StageManifest.duration(perDocument * Double(sampled))) (\(Self.sampleDocuments) documents took \(StageManifest.duration(generateSeconds)), × \(sampled) documents)"
        }
        let generatedRows = sampled * full.numQueriesPerDoc

        // filter: only the model strategies are costly.
        let filterPlan = byStage[.filter]!
        let filter = try FilterCommand.parse(filterPlan.arguments)
        if wanted.contains(.filter) {
            if filter.usesModel {
                let output = folder.appendingPathComponent("filtered.jsonl")
                var sample = try FilterCommand.parse(
                    Self.replacing(filterPlan.arguments, [("--input", sampleQueries.path), ("--output", output.path)]))
                let seconds = try await Self.timed { try sample.run() }
                let rows = max(1, StageCounts.lines(sampleQueries.path))
                result[.filter] =
                    "≈ \(StageManifest.duration(seconds / Double(rows) * Double(generatedRows))) (\(rows) queries took \(StageManifest.duration(seconds)), × \(generatedRows) queries)"
            } else {
                result[.filter] = "seconds (no model: \(filter.strategy.rawValue) with BM25 or log-probs)"
            }
        }

        // train: a few steps on triples of the sample queries (what the documents are does not
        // change the cost, only their length).
        let triplesCommand = try TriplesCommand.parse(byStage[.triples]!.arguments)
        let expectedTriples = min(generatedRows, filter.keepTopK == 0 ? generatedRows : filter.keepTopK) * triplesCommand.negatives
        let trainPlan = byStage[.train]!
        let train = try TrainCommand.parse(trainPlan.arguments)
        if wanted.contains(.train) {
            let triples = folder.appendingPathComponent("triples.tsv")
            try Self.writeTriples(from: sampleQueries, documents: documents, count: Self.sampleSteps * train.batch.batchSize * train.gradAccum, to: triples)
            let arguments = Self.withoutEvaluation(trainPlan.arguments)
            var sample = try TrainCommand.parse(
                Self.replacing(arguments, [("--triples", triples.path), ("--output", folder.appendingPathComponent("model").path)])
                    .filter { $0 != "--keep-best" }
                    + ["--steps", "\(Self.sampleSteps)"])
            let seconds = try await Self.timed { try sample.run() }
            let examplesPerStep = train.batch.batchSize * train.gradAccum
            let steps = train.steps ?? Int((train.epochs ?? 1) * Double(expectedTriples * 2) / Double(examplesPerStep)).clamped(1)
            result[.train] =
                "≈ \(StageManifest.duration(seconds / Double(Self.sampleSteps) * Double(steps))) (\(Self.sampleSteps) steps took \(StageManifest.duration(seconds)), × \(steps) steps"
                + (train.steps == nil ? " for about \(expectedTriples) triples" : "")
                + (train.evalEvery != nil ? "; evaluations during training not included" : "") + ")"
        }

        // rerank: the train stage's starting model on a small run (the trained model has the
        // same size), scaled to the judged queries × depth.
        if wanted.contains(.rerank) {
            let rerankPlan = byStage[.rerank]!
            let rerank = try RerankCommand.parse(rerankPlan.arguments)
            let search = try SearchCommand.parse(byStage[.search]!.arguments)
            let queriesURL = try byStage[.search]!.inputs[1].url()
            let judged = try Qrels.read(try byStage[.search]!.inputs[2].url()).judgments.count
            let queries = try QueryReader.read(queriesURL).queries
            let depth = min(rerank.rerankDepth, search.k, Self.sampleDepth, documents.count)
            let run = folder.appendingPathComponent("sample.trec")
            var lines = ""
            for query in queries.prefix(Self.sampleQueries) {
                for (rank, document) in documents.prefix(depth).enumerated() {
                    lines += "\(query.id) Q0 \(document.id) \(rank + 1) \(Double(depth - rank)) sample\n"
                }
            }
            try Data(lines.utf8).write(to: run)
            var sample = try RerankCommand.parse(
                Self.replacing(rerankPlan.arguments, [
                    ("--model", train.model.model), ("--run", run.path),
                    ("--output", folder.appendingPathComponent("reranked.trec").path),
                ]))
            let seconds = try await Self.timed { try sample.run() }
            let pairs = max(1, min(queries.count, Self.sampleQueries) * depth)
            let total = judged * min(rerank.rerankDepth, search.k)
            result[.rerank] =
                "≈ \(StageManifest.duration(seconds / Double(pairs) * Double(total))) (\(pairs) pairs took \(StageManifest.duration(seconds)) with \(train.model.model), × \(total) pairs)"
        }
        return result
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

extension Int {
    fileprivate func clamped(_ low: Int) -> Int { Swift.max(self, low) }
}

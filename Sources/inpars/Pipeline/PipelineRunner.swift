import ArgumentParser
import Foundation
import InparsCore
import InparsEval
import InparsHub

/// Runs a ``PipelinePlan`` stage by stage, each through the same command type `inpars
/// <stage>` runs, in this process: a finished stage whose command line and inputs are
/// unchanged is skipped, a killed one resumes as its command does, and a stage whose options
/// or inputs changed reruns (replacing only the outputs its manifest says the pipeline wrote).
struct PipelineRunner {
    let plan: PipelinePlan
    /// Rerun this stage and every later one even when finished.
    var from: PipelineStage?
    /// Stop after this stage.
    var until: PipelineStage?
    let sink: ProgressSink = StandardErrorProgressSink()

    /// The stages this run covers, in order.
    var selected: [StagePlan] {
        plan.stages.filter { until == nil || $0.stage.number <= until!.number }
    }

    /// What to do with a stage.
    enum Decision {
        case skip(StageManifest)
        /// Run the command; `resume` when an earlier run of the same command line was cut
        /// short; `replacing` lists the earlier outputs (the pipeline's) to remove first.
        case run(resume: Bool, replacing: [String], reason: String)
    }

    func run() async throws {
        let total = selected.count
        for stagePlan in selected {
            let stage = stagePlan.stage
            let label = "stage \(stage.number)/\(total) \(stage.rawValue)"
            let manifestURL = StageManifest.url(work: plan.work, stage: stage)
            if let from, stage.number < from.number {
                guard let done = try StageManifest.read(manifestURL), done.state == .complete else {
                    throw PipelineError(
                        "\(label) has not finished, so --from \(from.rawValue) cannot start after it;"
                            + " run without --from (or --from \(stage.rawValue))")
                }
                sink.emit("\(label): before --from, kept (\(done.summary))", transient: false)
                continue
            }
            let inputs = try identities(stagePlan)
            let forced = from.map { stage.number >= $0.number } ?? false
            switch try decide(stagePlan, inputs: inputs, forced: forced) {
            case .skip(let done):
                sink.emit("\(label): done earlier, skipped (\(done.summary))", transient: false)
            case .run(let resume, let replacing, let reason):
                for path in replacing where FileManager.default.fileExists(atPath: path) {
                    try FileManager.default.removeItem(atPath: path)
                }
                sink.emit("\(label): \(reason)", transient: false)
                let done = try await execute(stagePlan, inputs: inputs, resume: resume)
                sink.emit("\(label): done (\(done.summary))", transient: false)
            }
        }
    }

    /// The identities of a stage's inputs (a missing one means an earlier stage has not run).
    func identities(_ stagePlan: StagePlan) throws -> [InputIdentity] {
        try stagePlan.inputs.map { input in
            let url = try input.url()
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw PipelineError(
                    "stage \(stagePlan.stage.rawValue) reads '\(url.path)', which does not exist;"
                        + " run the earlier stages first (drop --from, or --until to stop earlier)")
            }
            return try InputIdentity.of(url)
        }
    }

    /// Skip, resume or rerun, from the stage's manifest.
    func decide(_ stagePlan: StagePlan, inputs: [InputIdentity], forced: Bool) throws -> Decision {
        let manifestURL = StageManifest.url(work: plan.work, stage: stagePlan.stage)
        guard let old = try StageManifest.read(manifestURL) else {
            return .run(resume: false, replacing: [], reason: "first run")
        }
        let sameArguments =
            old.arguments == stagePlan.arguments && (old.settings ?? []) == stagePlan.settings
        let changedInputs = zip(old.inputs, inputs).filter { !$0.sameContent(as: $1) }.map(\.1.path)
        let sameInputs = old.inputs.count == inputs.count && changedInputs.isEmpty
        if old.state == .complete { try checkProducts(old) }
        if sameArguments && sameInputs && !forced {
            if old.state == .complete { return .skip(old) }
            return .run(resume: true, replacing: [], reason: "resuming an interrupted run")
        }
        let reason =
            forced
            ? "rerunning (--from)"
            : !sameArguments
                ? "rerunning: its options changed ("
                    + Self.changes(old.arguments + (old.settings ?? []), stagePlan.arguments + stagePlan.settings) + ")"
                : "rerunning: an input changed (\(changedInputs.first ?? "the list of inputs"))"
        return .run(resume: false, replacing: old.owned, reason: reason)
    }

    /// Refuses when a finished stage's products are not what the pipeline wrote (edited or
    /// replaced by hand): they are no longer the pipeline's to replace.
    private func checkProducts(_ old: StageManifest) throws {
        for recorded in old.products ?? [] {
            let url = URL(fileURLWithPath: recorded.path)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let now = try InputIdentity.of(url)
            guard now.sameContent(as: recorded) else {
                throw InparsCoreError.refusingToReplace(
                    path: url.path,
                    reason: "it changed since the pipeline wrote it (stage \(old.stage.rawValue));"
                        + " move it away, and the pipeline reruns the stage")
            }
        }
    }

    /// "--keep 100 → --keep 10" for the arguments that differ.
    static func changes(_ old: [String], _ new: [String]) -> String {
        func pairs(_ arguments: [String]) -> [String: String] {
            var result: [String: String] = [:]
            var index = 0
            while index < arguments.count {
                let flag = arguments[index]
                if index + 1 < arguments.count, !arguments[index + 1].hasPrefix("--") {
                    result[flag, default: ""] += (result[flag] == nil ? "" : ",") + arguments[index + 1]
                    index += 2
                } else {
                    result[flag] = "on"
                    index += 1
                }
            }
            return result
        }
        let (a, b) = (pairs(old), pairs(new))
        let flags = Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted()
        return flags.map { "\($0) \(a[$0] ?? "unset") → \(b[$0] ?? "unset")" }.joined(separator: "; ")
    }

    /// Runs the stage's command, recording the manifest before (running) and after (complete).
    private func execute(
        _ stagePlan: StagePlan, inputs: [InputIdentity], resume: Bool
    ) async throws -> StageManifest {
        let stage = stagePlan.stage
        let manifestURL = StageManifest.url(work: plan.work, stage: stage)
        var manifest = StageManifest(
            stage: stage, arguments: stagePlan.arguments,
            settings: stagePlan.settings.isEmpty ? nil : stagePlan.settings, inputs: inputs,
            owned: stagePlan.owned, state: .running)
        try manifest.write(manifestURL)
        // Ctrl-C: the stage's own handling where its command has one (generate, train replace
        // this), else stop at once; the outputs never look whole when they are not.
        Interrupts.install(
            message: "interrupted during stage \(stage.rawValue): finished stages are kept; run the"
                + " same pipeline command again to resume.")
        PeakMemory.reset()
        let started = Date()
        var arguments = stagePlan.arguments
        if stage == .train && resume {
            if Self.hasCheckpoints(plan.work) {
                arguments.append("--resume")
            } else {
                // Killed before its first checkpoint: nothing to resume; start over in its folder.
                for path in stagePlan.owned where FileManager.default.fileExists(atPath: path) {
                    try FileManager.default.removeItem(atPath: path)
                }
            }
        }
        switch stage {
        case .index: let c = try IndexCommand.parse(arguments); try c.run()
        case .generate:
            if stagePlan.roundFilterArguments != nil {
                manifest.notes = try await BudgetedGeneration.run(stagePlan, sink: sink)
            } else {
                let c = try GenerateCommand.parse(arguments)
                try await c.run()
            }
        case .filter: let c = try FilterCommand.parse(arguments); try c.run()
        case .triples: let c = try TriplesCommand.parse(arguments); try c.run()
        case .search: let c = try SearchCommand.parse(arguments); try c.run()
        case .train: let c = try TrainCommand.parse(arguments); try c.run()
        case .rerank: let c = try RerankCommand.parse(arguments); try c.run()
        case .evaluate: try evaluate(stagePlan)
        }
        manifest.seconds = Date().timeIntervalSince(started)
        manifest.peakRSSBytes = PeakMemory.peakBytes()
        manifest.products = try stagePlan.products.map { try InputIdentity.of(URL(fileURLWithPath: $0)) }
        manifest.counts = try StageCounts.of(stage, work: plan.work)
        manifest.state = .complete
        try manifest.write(manifestURL)
        return manifest
    }

    /// `inpars evaluate --per-query` output: `metric<TAB>query<TAB>value` lines.
    static let evaluationTableKind = OutputKind.file("an evaluation table") {
        $0.split(separator: "\t").count == 3
    }

    static func hasCheckpoints(_ work: URL) -> Bool {
        let model = work.appendingPathComponent("train/model")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: model.path)) ?? []
        return names.contains { $0.hasPrefix("checkpoint-") }
    }

    /// The evaluate stage: `inpars evaluate`'s options (parsed by the command itself) applied to
    /// the BM25 run and the reranked run, each written as `inpars evaluate --per-query` prints
    /// it (`DIR/evaluate/bm25.tsv`, `rerank.tsv`).
    private func evaluate(_ stagePlan: StagePlan) throws {
        let command = try EvaluateCommand.parse(stagePlan.arguments)
        let metrics = try Metric.parseList(command.metrics)
        let qrels = try Qrels.read(DatasetLocator.resolve(command.qrels, role: .qrels))
        let options = EvaluationOptions(
            relevanceThreshold: command.relevanceThreshold, averageOverAllQueries: command.allQueries)
        for (name, stage) in [("bm25", PipelineStage.search), ("rerank", .rerank)] {
            let run = try Run.read(URL(fileURLWithPath: PipelinePlan.path(plan.work, stage, "run.trec")))
            let result = try Evaluator.evaluate(run: run, qrels: qrels, metrics: metrics, options: options)
            try AtomicFile.write(
                Data(result.table(perQuery: true).utf8),
                to: URL(fileURLWithPath: PipelinePlan.path(plan.work, .evaluate, "\(name).tsv")),
                replacing: Self.evaluationTableKind)
            sink.emit(
                "evaluate: \(name): " + result.metrics.map { "\($0) \(formatFixed(result.mean[$0]!, decimals: 4))" }
                    .joined(separator: ", "), transient: false)
        }
    }
}

/// A pipeline problem (not the recipe's, not a command's): one sentence saying what to do.
struct PipelineError: LocalizedError {
    let message: String
    init(_ message: String) { self.message = message }
    var errorDescription: String? { message }
}

/// The counts a stage's summary line and the report show, read from its outputs.
enum StageCounts {
    /// Non-empty lines of a file (0 when it cannot be read).
    static func lines(_ path: String) -> Int {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        return text.split(separator: "\n").count
    }

    static func of(_ stage: PipelineStage, work: URL) throws -> [StageManifest.Count] {
        func path(_ s: PipelineStage, _ name: String) -> String { PipelinePlan.path(work, s, name) }
        func queries(_ p: String) -> Int {
            guard let text = try? String(contentsOfFile: p, encoding: .utf8) else { return 0 }
            return Set(text.split(separator: "\n").compactMap { $0.split(separator: " ").first }).count
        }
        switch stage {
        case .index: return []
        case .generate: return [.init(name: "queries generated", value: lines(path(.generate, "queries.jsonl")))]
        case .filter: return [.init(name: "queries kept", value: lines(path(.filter, "queries.jsonl")))]
        case .triples: return [.init(name: "triples", value: lines(path(.triples, "triples.tsv")))]
        case .search: return [.init(name: "queries searched", value: queries(path(.search, "run.trec")))]
        case .train:
            let log = TrainingCurves.read(work)
            return [.init(name: "steps", value: log.loss.last.map { Int($0.step) } ?? 0)]
        case .rerank: return [.init(name: "queries reranked", value: queries(path(.rerank, "run.trec")))]
        case .evaluate: return []
        }
    }
}

import Foundation
import InparsCore
import InparsGeneration

/// `generate.target-queries: K`: generate in rounds and filter as it goes, stopping once K
/// queries have passed the filter, instead of generating ten times what is kept.
///
/// Round r is shard r of N of the same document sample `generate` draws for
/// `max-generations` (so the rounds are the sample's consecutive blocks, and their
/// concatenation is what one run over those documents writes); each round's queries go
/// through the recipe's filter section with `--keep 0` (every rule applied, nothing cut by
/// rank; a reranker strategy's rounds apply its rules without the model, whose scores only
/// rank: see `FilterCommand.withoutRankingModel`), and the rounds stop when the rows that
/// passed reach K. The stage's output is the
/// rounds' concatenation; the filter stage then ranks it and keeps its `keep` rows as usual.
/// Each round is an ordinary `generate` and `filter` run with its own files under
/// `DIR/generate/rounds/`, so a killed round resumes as those commands do.
enum BudgetedGeneration {
    static let targetKey = "target-queries"
    static let roundKey = "round-size"

    /// Adds the settings, the round filter and the rounds folder to the generate stage's plan
    /// (nothing without `target-queries`).
    static func plan(_ plan: inout StagePlan, recipe: Recipe, files: PipelinePlan.Files) throws {
        guard let target = plan.section[targetKey] else {
            if let round = plan.section[roundKey] {
                throw RecipeError(message: "\(round.origin): generate.round-size needs generate.target-queries")
            }
            return
        }
        let goal = try positive(target, targetKey)
        let size = try plan.section[roundKey].map { try positive($0, roundKey) } ?? goal
        let filterSection = (recipe.sections[.filter] ?? [:]).filter { !["keep", "keep-top-k"].contains($0.key) }
        let (extra, inputs) = PipelinePlan.filterWiring(filterSection, files: files)
        let roundFilter = extra + PipelinePlan.flags(filterSection, stage: .filter) + ["--keep", "0"]
        plan.roundFilterArguments = roundFilter
        plan.settings = [
            "target-queries=\(goal)", "round-size=\(size)", "round-filter=" + roundFilter.joined(separator: " "),
        ]
        plan.inputs += inputs
        plan.owned.append(roundsFolder(files.generated))
    }

    static func roundsFolder(_ generated: String) -> String {
        URL(fileURLWithPath: generated).deletingLastPathComponent().appendingPathComponent("rounds").path
    }

    private static func positive(_ value: RecipeValue, _ key: String) throws -> Int {
        guard value.values.count == 1, let number = Int(value.values[0]), number >= 1 else {
            throw RecipeError(message: "\(value.origin): generate.\(key) must be a whole number ≥ 1")
        }
        return number
    }

    /// Runs the rounds and writes the stage's output; returns the notes for the manifest and
    /// the report ("N queries generated in R rounds for K passing").
    static func run(_ stagePlan: StagePlan, sink: ProgressSink) async throws -> [String] {
        let section = stagePlan.section
        let goal = try positive(section[targetKey]!, targetKey)
        let size = try section[roundKey].map { try positive($0, roundKey) } ?? goal
        let output = stagePlan.products[0]
        let rounds = URL(fileURLWithPath: roundsFolder(output))
        try FileManager.default.createDirectory(at: rounds, withIntermediateDirectories: true)
        let corpus = try stagePlan.inputs[0].url()
        let documents = try CorpusReader.read(corpus).documents.count
        var generate = try GenerateCommand.parse(stagePlan.arguments)
        let sample = min(generate.maxGenerations, documents)
        let count = max(1, (sample + size - 1) / size)
        var (generated, passed, done) = (0, 0, 0)
        var files: [URL] = []
        for round in 0..<count {
            let roundOutput = rounds.appendingPathComponent("round-\(round).jsonl")
            let kept = rounds.appendingPathComponent("round-\(round).filtered.jsonl")
            var arguments = stagePlan.arguments
            if let at = arguments.firstIndex(of: "--output") { arguments[at + 1] = roundOutput.path }
            sink.emit(
                "generate: round \(round + 1) of at most \(count) (documents \(Shard(index: round, count: count).range(of: sample)) of the \(sample) sampled)",
                transient: false)
            generate = try GenerateCommand.parse(arguments + ["--shard", "\(round)/\(count)"])
            try await ResumeOptions.$suggestsMerge.withValue(false) { try await generate.run() }
            let filter = try FilterCommand.parse(
                ["--input", roundOutput.path, "--output", kept.path] + (stagePlan.roundFilterArguments ?? [])
            ).withoutRankingModel
            try filter.run()
            generated += StageCounts.lines(roundOutput.path)
            passed += StageCounts.lines(kept.path)
            files.append(roundOutput)
            done = round + 1
            sink.emit(
                "generate: after round \(done): \(passed) of \(generated) generated queries passed the filter (target \(goal))",
                transient: false)
            if passed >= goal { break }
        }
        try AtomicFile.write(to: URL(fileURLWithPath: output), replacing: GenerateRun.outputKind) { file in
            for url in files { try file.write(bytes: Data(contentsOf: url)) }
        }
        if passed < goal {
            sink.emit(
                "warning: only \(passed) queries passed the filter after all \(sample) sampled documents"
                    + " (target \(goal)); raise generate.max-generations for more", transient: false)
        }
        return ["\(generated) queries generated in \(done) of at most \(count) rounds for \(passed) passing the filter (target \(goal))"]
    }
}

import ArgumentParser
import Foundation
import InparsCore

/// `inpars pipeline`: a whole InPars recipe, stage by stage, resumable, with a report.
struct PipelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Run a whole InPars recipe (generate → … → evaluate) with a report.",
        discussion: """
            RECIPE is a built-in name (inpars-v1, inpars-v2, inpars-light; print one with --show \
            NAME) or a YAML file: top-level corpus, queries, qrels (paths or beir/<name>[/<split>]) \
            and optional split, and one section per stage (index, generate, filter, triples, \
            search, train, rerank, evaluate) whose keys are that command's long flag names \
            (max-generations or max_generations). The stages run in this process through the \
            same commands, each under --work DIR/<stage>/ with a manifest (stage.json) of its \
            inputs' checksums and its options: rerunning skips finished stages, a killed stage \
            resumes as its command does, and a stage whose options or inputs changed reruns with \
            every stage that reads its outputs. At the end: DIR/report.md and DIR/report.html \
            (self-contained). See Docs/pipeline.md.
            """)

    @Argument(help: "A built-in recipe name or a recipe file (YAML).")
    var recipe: String?

    @Option(help: "Work folder: one subfolder per stage, the reports at its top.")
    var work: String?

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Override a recipe value, after the file: corpus=PATH, generate.model=org/name (repeatable).",
            valueName: "key=value"))
    var assignments: [String] = []

    @Option(help: "Rerun this stage and every later one, even when finished.")
    var from: PipelineStage?

    @Option(help: "Stop after this stage.")
    var until: PipelineStage?

    @Flag(help: "Print the plan (each stage's command line, and whether it would run) and stop.")
    var dryRun = false

    @Flag(
        inversion: .prefixedNo,
        help: "With --dry-run: time a small sample of each model stage that would run, for an estimate (loads, or downloads, the models).")
    var estimate = true

    @Option(help: "Print a built-in recipe (YAML to save and edit) and exit.")
    var show: String?

    func validate() throws {
        if let show {
            guard BuiltInRecipes.text(show) != nil else {
                throw ValidationError(
                    "--show: no built-in recipe '\(show)'; the built-ins are \(BuiltInRecipes.names.joined(separator: ", "))")
            }
            return
        }
        guard recipe != nil else { throw ValidationError("give a recipe: a built-in name or a YAML file") }
        guard work != nil else { throw ValidationError("Missing expected argument '--work <work>'") }
        if let from, let until, from.number > until.number {
            throw ValidationError("--from \(from.rawValue) comes after --until \(until.rawValue)")
        }
    }

    /// The recipe with the `--set` overrides applied.
    func loadRecipe() throws -> Recipe {
        let name = recipe ?? ""
        var loaded: Recipe
        if let text = BuiltInRecipes.text(name) {
            loaded = try Recipe.parse(yaml: text, source: "built-in \(name)")
        } else if FileManager.default.fileExists(atPath: name) {
            loaded = try Recipe.load(file: URL(fileURLWithPath: name))
        } else {
            throw PipelineError(
                "'\(name)' is neither a built-in recipe (\(BuiltInRecipes.names.joined(separator: ", "))) nor a file")
        }
        for assignment in assignments { try loaded.apply(set: assignment) }
        return loaded
    }

    func run() async throws {
        if let show {
            FileHandle.standardOutput.write(Data(BuiltInRecipes.text(show)!.utf8))
            return
        }
        let plan = try PipelinePlan(
            recipe: loadRecipe(), work: URL(fileURLWithPath: work!).standardizedFileURL,
            through: until)
        let runner = PipelineRunner(plan: plan, from: from, until: until)
        if dryRun {
            try await DryRun(runner: runner, estimate: estimate).print()
            return
        }
        // Each stage's command handles Ctrl-C as it does alone (train saves a checkpoint);
        // finished stages are kept, and the same command resumes.
        try FileManager.default.createDirectory(at: plan.work, withIntermediateDirectories: true)
        try await runner.run()
        let written = try PipelineReport(plan: plan).write()
        StandardErrorProgressSink().emit(
            "pipeline: report → " + written.map(\.path).joined(separator: ", "), transient: false)
    }
}

extension PipelineStage: ExpressibleByArgument {}

/// `--dry-run`: each stage's command line and what a run would do with it.
struct DryRun {
    let runner: PipelineRunner
    /// Time a sample of each model stage.
    var estimate = true

    func print() async throws {
        var text = "plan for \(runner.plan.recipe.source) in \(runner.plan.work.path):\n"
        var toRun: [StagePlan] = []
        var lines: [(StagePlan, String)] = []
        var pending: Set<String> = []  // what the stages that would run write
        for stagePlan in runner.selected {
            var verdict = try verdict(stagePlan)
            if verdict.hasPrefix("done"), let earlier = stagePlan.inputs.first(where: { pending.contains($0.path) }) {
                verdict = "would rerun after the stage that writes \(earlier.path)"
            }
            if verdict.hasPrefix("would") {
                toRun.append(stagePlan)
                pending.formUnion(stagePlan.owned)
            }
            lines.append((stagePlan, verdict))
        }
        let expensive: Set<PipelineStage> = [.generate, .filter, .train, .rerank]
        var estimates: [PipelineStage: String] = [:]
        if estimate && toRun.contains(where: { expensive.contains($0.stage) }) {
            do {
                estimates = try await DryRunEstimates(plan: runner.plan, sink: runner.sink).estimate(toRun)
            } catch {
                text += "(no time estimates: the sample run failed: \(error.localizedDescription))\n"
            }
        }
        for (stagePlan, verdict) in lines {
            let stage = stagePlan.stage
            text += "\(stage.number). \(stage.rawValue): \(verdict)\n"
            if let estimate = estimates[stage] { text += "   time: \(estimate)\n" }
            text += "   inpars \(stage.rawValue) " + stagePlan.arguments.map(Self.quoted).joined(separator: " ") + "\n"
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    private func verdict(_ stagePlan: StagePlan) throws -> String {
        let stage = stagePlan.stage
        if let from = runner.from, stage.number < from.number { return "kept (before --from)" }
        guard let inputs = try? runner.identities(stagePlan) else {
            return "would run after the stages before it"
        }
        let forced = runner.from.map { stage.number >= $0.number } ?? false
        switch try runner.decide(stagePlan, inputs: inputs, forced: forced) {
        case .skip(let done): return "done, would skip (\(done.summary))"
        case .run(_, _, let reason): return "would run: \(reason)"
        }
    }

    static func quoted(_ word: String) -> String {
        word.isEmpty || word.contains(where: { " \"'$\\".contains($0) }) ? "'\(word)'" : word
    }
}

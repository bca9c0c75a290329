import ArgumentParser
import Foundation
import InparsCore
import InparsHub

/// A file or folder a stage reads; data files keep their role, so `beir/<name>` resolves to
/// the right file of the data set, and a Hub model id resolves to its cached snapshot.
struct PlanInput: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case file
        /// A BEIR name (`beir/scifact`) or a file, for a data set's role.
        case dataset(DatasetLocator.Role)
        /// A Hub model id (`org/name[@revision]`, with the section's `revision`).
        case hubModel(revision: String?)
    }

    let path: String
    let kind: Kind

    init(_ path: String, _ role: DatasetLocator.Role? = nil) {
        self.path = path
        kind = role.map { .dataset($0) } ?? .file
    }

    init(hubModel id: String, revision: String?) {
        path = id
        kind = .hubModel(revision: revision)
    }

    /// The local file or folder: a data set's fetched first, a Hub model's cached snapshot
    /// (downloaded first when the cache lacks it). A Hub model's identity is its snapshot's,
    /// so a newer snapshot of its branch (`inpars download`) reruns the stages that use it.
    func url() throws -> URL {
        switch kind {
        case .file: return URL(fileURLWithPath: path)
        case .dataset(let role): return try DatasetLocator.resolve(path, role: role)
        case .hubModel(let revision): return try ModelLocator.resolve(path, revision: revision)
        }
    }
}

/// One stage of a planned pipeline: the command line it runs (the same command type
/// `inpars <stage>` runs, parsed from these arguments), the files it reads and the ones it
/// writes, all under `DIR/<stage>/`.
struct StagePlan: Sendable {
    let stage: PipelineStage
    /// The command's arguments (after the subcommand name), without the run-time `--resume`.
    var arguments: [String] = []
    /// The pipeline's own settings of the stage (`target-queries=…` and the filter it applies
    /// as it generates), compared with the manifest's like the arguments.
    var settings: [String] = []
    /// Files and folders the stage reads: data files, the previous stages' outputs, and every
    /// section value that names an existing local path (a model folder, a prompt file).
    var inputs: [PlanInput] = []
    /// What the stage produces (checked on a rerun: unchanged means the stage is done).
    var products: [String] = []
    /// Everything the stage writes (the products plus the commands' own manifests), which the
    /// pipeline may replace when the stage must rerun.
    var owned: [String] = []
    /// The recipe's section.
    var section: [String: RecipeValue] = [:]
    /// Budgeted generation: the filter's arguments without `--input`, `--output` and `--keep`.
    var roundFilterArguments: [String]?
}

/// Turns a recipe into the eight stages' command lines, checking every section against its
/// command (so an unknown key, a wrong type or a missing value is reported before anything
/// runs, with the recipe's file, line and key).
struct PipelinePlan: Sendable {
    let recipe: Recipe
    let work: URL
    let stages: [StagePlan]

    /// `DIR/<stage>/<name>`.
    static func path(_ work: URL, _ stage: PipelineStage, _ name: String) -> String {
        work.appendingPathComponent(stage.rawValue).appendingPathComponent(name).path
    }

    /// The plan of every stage; the sections of stages after `through` (`--until`) are not
    /// checked, so a recipe may leave out what a partial run does not reach.
    init(recipe: Recipe, work: URL, through: PipelineStage? = nil) throws {
        self.recipe = recipe
        self.work = work
        let files = try Files(recipe: recipe, work: work)
        var plans: [StagePlan] = []
        for stage in PipelineStage.allCases {
            var plan = try Self.wiring(stage, recipe: recipe, files: files)
            let section = plan.section
            // Section values naming local files or folders are inputs too (a model folder
            // retrained in place, an edited prompt file).
            for key in section.keys.sorted() {
                for value in section[key]!.values
                where (value.contains("/") || value.contains("."))
                    && FileManager.default.fileExists(atPath: value)
                {
                    plan.inputs.append(PlanInput(value))
                }
            }
            // A model named by Hub id is an input too (the snapshot it resolves to).
            for key in ["model", "teacher"] {
                guard let value = section[key]?.values.first,
                    !FileManager.default.fileExists(atPath: value)
                else { continue }
                let revision = key == "model" ? section["revision"]?.values.first : nil
                if (try? ModelLocator.reference(value, revision: revision)) != nil {
                    plan.inputs.append(PlanInput(hubModel: value, revision: revision))
                }
            }
            plan.arguments += Self.flags(section, stage: stage)
            if stage.number <= (through ?? .evaluate).number {
                try Self.check(stage: stage, arguments: plan.arguments, recipe: recipe)
            }
            plan.owned = plan.products + plan.owned
            plans.append(plan)
        }
        stages = plans
    }

    /// The files that join the stages.
    struct Files {
        let corpus, queries, qrels: PlanInput
        let index, generated, filtered, triples, ids, bm25, model, reranked: String
        let bm25Table, rerankTable: String

        /// The plan of every stage; the sections of stages after `through` (`--until`) are not
    /// checked, so a recipe may leave out what a partial run does not reach.
    init(recipe: Recipe, work: URL, through: PipelineStage? = nil) throws {
            corpus = PlanInput(try recipe.dataFile("corpus"), .corpus)
            queries = PlanInput(try recipe.dataFile("queries"), .queries)
            qrels = PlanInput(try recipe.dataFile("qrels"), .qrels)
            func p(_ stage: PipelineStage, _ name: String) -> String { PipelinePlan.path(work, stage, name) }
            index = p(.index, "index")
            generated = p(.generate, "queries.jsonl")
            filtered = p(.filter, "queries.jsonl")
            triples = p(.triples, "triples.tsv")
            ids = p(.triples, "ids.tsv")
            bm25 = p(.search, "run.trec")
            model = p(.train, "model")
            reranked = p(.rerank, "run.trec")
            bm25Table = p(.evaluate, "bm25.tsv")
            rerankTable = p(.evaluate, "rerank.tsv")
        }
    }

    /// The filter's own wiring beyond its input and output: the index (consistency) and the
    /// corpus (model strategies).
    static func filterWiring(_ section: [String: RecipeValue], files: Files) -> ([String], [PlanInput]) {
        var arguments: [String] = []
        var inputs: [PlanInput] = []
        let strategy = section["strategy"]?.values.first
        if strategy == "consistency" {
            arguments += ["--index", files.index]
            inputs.append(PlanInput(files.index))
        }
        if strategy == "reranker" || section["consistency-ranker"]?.values.first == "monot5" {
            arguments += ["--corpus", files.corpus.path]
            inputs.append(files.corpus)
        }
        return (arguments, inputs)
    }

    /// A stage's wired arguments (the files it reads and writes), inputs and outputs.
    static func wiring(_ stage: PipelineStage, recipe: Recipe, files f: Files) throws -> StagePlan {
        var plan = StagePlan(stage: stage)
        plan.section = recipe.sections[stage] ?? [:]
        let manifest = { (path: String) in path + ".manifest.json" }
        switch stage {
        case .index:
            plan.arguments = ["--corpus", f.corpus.path, "--output", f.index]
            plan.inputs = [f.corpus]
            plan.products = [f.index]
        case .generate:
            plan.arguments = ["--corpus", f.corpus.path, "--output", f.generated]
            plan.inputs = [f.corpus]
            plan.products = [f.generated]
            plan.owned = [manifest(f.generated)]
            try BudgetedGeneration.plan(&plan, recipe: recipe, files: f)
        case .filter:
            let (extra, inputs) = filterWiring(plan.section, files: f)
            plan.arguments = ["--input", f.generated, "--output", f.filtered] + extra
            plan.inputs = [PlanInput(f.generated)] + inputs
            plan.products = [f.filtered]
            plan.owned = [manifest(f.filtered)]
        case .triples:
            plan.arguments = [
                "--input", f.filtered, "--index", f.index, "--corpus", f.corpus.path, "--output",
                f.triples, "--ids-output", f.ids,
            ]
            plan.inputs = [PlanInput(f.filtered), PlanInput(f.index), f.corpus]
            plan.products = [f.triples, f.ids]
            plan.owned = [manifest(f.triples)]
        case .search:
            plan.arguments = [
                "--index", f.index, "--queries", f.queries.path, "--qrels", f.qrels.path, "--output",
                f.bm25,
            ]
            plan.inputs = [PlanInput(f.index), f.queries, f.qrels]
            plan.products = [f.bm25]
            plan.owned = [manifest(f.bm25)]
        case .train:
            plan.arguments = ["--triples", f.triples, "--output", f.model]
            plan.inputs = [PlanInput(f.triples)]
            if plan.section["eval-every"] != nil {
                plan.arguments += [
                    "--eval-queries", f.queries.path, "--eval-qrels", f.qrels.path, "--eval-run",
                    f.bm25, "--eval-corpus", f.corpus.path,
                ]
                plan.inputs += [f.queries, f.qrels, PlanInput(f.bm25), f.corpus]
            }
            plan.products = [f.model + "/final", f.model + "/train_log.jsonl"]
            plan.owned = [f.model]
        case .rerank:
            plan.arguments = [
                "--model", f.model + "/final", "--corpus", f.corpus.path, "--queries",
                f.queries.path, "--run", f.bm25, "--output", f.reranked,
            ]
            plan.inputs = [PlanInput(f.model + "/final"), f.corpus, f.queries, PlanInput(f.bm25)]
            plan.products = [f.reranked]
            plan.owned = [manifest(f.reranked)]
        case .evaluate:
            plan.arguments = ["--qrels", f.qrels.path, "--run", f.bm25]
            plan.inputs = [f.qrels, PlanInput(f.bm25), PlanInput(f.reranked)]
            plan.products = [f.bm25Table, f.rerankTable]
        }
        return plan
    }

    /// `--key value` for each entry (sorted by key; lists repeat the flag; `true` is a bare
    /// flag, `false` leaves it out), without the pipeline's own keys.
    static func flags(_ section: [String: RecipeValue], stage: PipelineStage) -> [String] {
        var result: [String] = []
        for key in section.keys.sorted() where !stage.pipelineKeys.contains(key) {
            let values = section[key]!.values
            if values == ["true"] {
                result.append("--\(key)")
            } else if values == ["false"] {
                continue
            } else {
                for value in values { result += ["--\(key)", value] }
            }
        }
        return result
    }

    /// Parses `arguments` with the stage's command (its own parser and validation), turning a
    /// failure into a message that names the recipe's file, line and key.
    static func check(stage: PipelineStage, arguments: [String], recipe: Recipe) throws {
        guard let message = parseFailure(stage: stage, arguments: arguments) else { return }
        let section = recipe.sections[stage] ?? [:]
        let named = flagNames(in: message)
        if let key = named.first(where: { section[$0] != nil }), let entry = section[key] {
            let what =
                message.hasPrefix("Unknown option")
                ? "unknown key '\(key)' in section '\(stage.rawValue)': inpars \(stage.rawValue) has no --\(key) (see inpars \(stage.rawValue) --help)"
                : "\(stage.rawValue).\(key): \(message)"
            throw RecipeError(message: "\(entry.origin): \(what)")
        }
        let place = recipe.sectionOrigins[stage] ?? recipe.source
        if message.hasPrefix("Missing expected argument"), let flag = named.first {
            throw RecipeError(
                message: "\(place): section '\(stage.rawValue)' needs '\(flag)' (inpars \(stage.rawValue) --\(flag)); add it to the recipe or pass --set \(stage.rawValue).\(flag)=…")
        }
        throw RecipeError(message: "\(place): section '\(stage.rawValue)': \(message)")
    }

    /// The names of the `--flags` a message mentions, in order.
    private static func flagNames(in message: String) -> [String] {
        var names: [String] = []
        var rest = Substring(message)
        while let range = rest.range(of: "--") {
            let name = rest[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" }
            if !name.isEmpty { names.append(String(name)) }
            rest = rest[range.upperBound...]
        }
        return names
    }

    /// nil when the stage's command accepts `arguments`, else its parser's message.
    static func parseFailure(stage: PipelineStage, arguments: [String]) -> String? {
        func attempt<C: ParsableCommand>(_ type: C.Type) -> String? {
            do {
                _ = try C.parse(arguments)
                return nil
            } catch { return C.message(for: error) }
        }
        switch stage {
        case .index: return attempt(IndexCommand.self)
        case .generate: return attempt(GenerateCommand.self)
        case .filter: return attempt(FilterCommand.self)
        case .triples: return attempt(TriplesCommand.self)
        case .search: return attempt(SearchCommand.self)
        case .train: return attempt(TrainCommand.self)
        case .rerank: return attempt(RerankCommand.self)
        case .evaluate: return attempt(EvaluateCommand.self)
        }
    }
}

import ArgumentParser
import Foundation
import InparsCore
import InparsHub

/// A file or folder a stage reads; data files keep their role, so `beir/<name>` resolves to
/// the right file of the data set.
struct PlanInput: Sendable, Equatable {
    let path: String
    let role: DatasetLocator.Role?

    init(_ path: String, _ role: DatasetLocator.Role? = nil) {
        self.path = path
        self.role = role
    }

    /// The local file (a data set's fetched first).
    func url() throws -> URL {
        guard let role else { return URL(fileURLWithPath: path) }
        return try DatasetLocator.resolve(path, role: role)
    }
}

/// One stage of a planned pipeline: the command line it runs (the same command type
/// `inpars <stage>` runs, parsed from these arguments), the files it reads and the ones it
/// writes, all under `DIR/<stage>/`.
struct StagePlan: Sendable {
    let stage: PipelineStage
    /// The command's arguments (after the subcommand name), without the run-time `--resume`.
    let arguments: [String]
    /// Files and folders the stage reads: data files, the previous stages' outputs, and every
    /// section value that names an existing local path (a model folder, a prompt file).
    let inputs: [PlanInput]
    /// What the stage produces (checked on a rerun: unchanged means the stage is done).
    let products: [String]
    /// Everything the stage writes (the products plus the commands' own manifests), which the
    /// pipeline may replace when the stage must rerun.
    let owned: [String]
    /// The recipe's section, for the report.
    let section: [String: RecipeValue]
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

    init(recipe: Recipe, work: URL) throws {
        self.recipe = recipe
        self.work = work
        let corpus = try recipe.dataFile("corpus")
        let queries = try recipe.dataFile("queries")
        let qrels = try recipe.dataFile("qrels")
        func p(_ stage: PipelineStage, _ name: String) -> String { Self.path(work, stage, name) }
        let index = p(.index, "index")
        let generated = p(.generate, "queries.jsonl")
        let filtered = p(.filter, "queries.jsonl")
        let triples = p(.triples, "triples.tsv")
        let bm25 = p(.search, "run.trec")
        let model = p(.train, "model")
        let reranked = p(.rerank, "run.trec")
        let manifest = { (path: String) in path + ".manifest.json" }
        let corpusInput = PlanInput(corpus, .corpus)
        let queriesInput = PlanInput(queries, .queries)
        let qrelsInput = PlanInput(qrels, .qrels)

        var plans: [StagePlan] = []
        for stage in PipelineStage.allCases {
            let section = recipe.sections[stage] ?? [:]
            var wired: [String]
            var inputs: [PlanInput]
            var products: [String]
            var owned: [String] = []
            switch stage {
            case .index:
                wired = ["--corpus", corpus, "--output", index]
                inputs = [corpusInput]
                products = [index]
            case .generate:
                wired = ["--corpus", corpus, "--output", generated]
                inputs = [corpusInput]
                products = [generated]
                owned = [manifest(generated)]
            case .filter:
                wired = ["--input", generated, "--output", filtered]
                inputs = [PlanInput(generated)]
                let strategy = section["strategy"]?.values.first
                if strategy == "consistency" {
                    wired += ["--index", index]
                    inputs.append(PlanInput(index))
                }
                if strategy == "reranker" || section["consistency-ranker"]?.values.first == "monot5" {
                    wired += ["--corpus", corpus]
                    inputs.append(corpusInput)
                }
                products = [filtered]
                owned = [manifest(filtered)]
            case .triples:
                let ids = p(.triples, "ids.tsv")
                wired = [
                    "--input", filtered, "--index", index, "--corpus", corpus, "--output", triples,
                    "--ids-output", ids,
                ]
                inputs = [PlanInput(filtered), PlanInput(index), corpusInput]
                products = [triples, ids]
                owned = [manifest(triples)]
            case .search:
                wired = ["--index", index, "--queries", queries, "--qrels", qrels, "--output", bm25]
                inputs = [PlanInput(index), queriesInput, qrelsInput]
                products = [bm25]
                owned = [manifest(bm25)]
            case .train:
                wired = ["--triples", triples, "--output", model]
                inputs = [PlanInput(triples)]
                if section["eval-every"] != nil {
                    wired += [
                        "--eval-queries", queries, "--eval-qrels", qrels, "--eval-run", bm25,
                        "--eval-corpus", corpus,
                    ]
                    inputs += [queriesInput, qrelsInput, PlanInput(bm25), corpusInput]
                }
                products = [model + "/final", model + "/train_log.jsonl"]
                owned = [model]
            case .rerank:
                wired = [
                    "--model", model + "/final", "--corpus", corpus, "--queries", queries, "--run",
                    bm25, "--output", reranked,
                ]
                inputs = [PlanInput(model + "/final"), corpusInput, queriesInput, PlanInput(bm25)]
                products = [reranked]
                owned = [manifest(reranked)]
            case .evaluate:
                wired = ["--qrels", qrels, "--run", bm25]
                inputs = [qrelsInput, PlanInput(bm25), PlanInput(reranked)]
                products = [p(.evaluate, "bm25.tsv"), p(.evaluate, "rerank.tsv")]
            }
            let flags = Self.flags(section, stage: stage)
            // Section values naming local files or folders are inputs too (a model folder
            // retrained in place, an edited prompt file).
            for key in section.keys.sorted() {
                for value in section[key]!.values
                where (value.contains("/") || value.contains("."))
                    && FileManager.default.fileExists(atPath: value)
                {
                    inputs.append(PlanInput(value))
                }
            }
            let arguments = wired + flags
            try Self.check(stage: stage, arguments: arguments, recipe: recipe)
            plans.append(
                StagePlan(
                    stage: stage, arguments: arguments, inputs: inputs, products: products,
                    owned: products + owned, section: section))
        }
        stages = plans
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

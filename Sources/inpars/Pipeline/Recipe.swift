import Foundation
import InparsCore
import Yams

/// The stages of `inpars pipeline`, in the order they run.
///
/// `index` runs first because the consistency filter (InPars-light) needs the BM25 index, and
/// `search` runs before `train` so that training can be evaluated on the first-stage run as it
/// goes (`train.eval-every`). Each stage reruns only when what it reads or its options change,
/// so the order decides nothing else.
enum PipelineStage: String, CaseIterable, Codable, Sendable {
    case index, generate, filter, triples, search, train, rerank, evaluate

    /// 1-based position, for "stage i/n".
    var number: Int { Self.allCases.firstIndex(of: self)! + 1 }

    /// Flags the pipeline sets itself (the files that join the stages); a recipe may not.
    var wiredFlags: Set<String> {
        let common: Set<String> = ["overwrite", "shard"]
        switch self {
        case .index: return common.union(["corpus", "output", "index"])
        case .generate:
            return common.union(["corpus", "output", "batch-export", "batch-import"])
        case .filter: return common.union(["input", "output", "index", "corpus"])
        case .triples: return common.union(["input", "index", "corpus", "output", "ids-output"])
        case .search: return common.union(["index", "queries", "qrels", "output"])
        case .train:
            return common.union([
                "triples", "pairs", "output", "resume", "eval-queries", "eval-qrels", "eval-run",
                "eval-corpus",
            ])
        case .rerank: return common.union(["model", "corpus", "queries", "run", "output"])
        case .evaluate: return ["qrels", "run", "json", "per-query"]
        }
    }

    /// Keys a section may hold that are the pipeline's own, not the command's flags.
    var pipelineKeys: Set<String> {
        self == .generate ? [BudgetedGeneration.targetKey, BudgetedGeneration.roundKey] : []
    }
}

/// One value of a recipe: its text (a YAML list gives several, each becoming one `--flag`),
/// and where it came from, for messages (`recipe.yaml:12`, `--set generate.model=…`).
struct RecipeValue: Equatable, Sendable {
    var values: [String]
    var origin: String
}

/// A recipe problem: names the file (or `--set`), the line and the key, and what to do.
struct RecipeError: LocalizedError, Equatable {
    let message: String
    var errorDescription: String? { message }
}

/// A pipeline recipe: the data files and one section of command flags per stage.
///
/// The top level holds `corpus`, `queries`, `qrels` (paths, or `beir/<name>[/<split>]`) and an
/// optional `split` (appended to `beir/<name>` queries and qrels that name none). Each stage's
/// section maps the command's long flag names (`max-generations`, or `max_generations`) to
/// values; `true` turns a flag on, `false` leaves it off, a list repeats the flag. A section's
/// keys are checked against the command itself when the plan is built (``PipelinePlan``), so a
/// key means exactly what the flag means.
struct Recipe: Sendable {
    static let topKeys: Set<String> = ["corpus", "queries", "qrels", "split"]

    /// The file path, or `built-in NAME`, for messages.
    var source: String
    /// The recipe's text as read (built-in or file), for `--show` and the report.
    var text: String
    var top: [String: RecipeValue] = [:]
    var sections: [PipelineStage: [String: RecipeValue]] = [:]
    /// Where each section starts.
    var sectionOrigins: [PipelineStage: String] = [:]

    /// The flag name a recipe key stands for (`max_generations` → `max-generations`).
    static func normalized(_ key: String) -> String {
        key.replacingOccurrences(of: "_", with: "-")
    }

    /// Reads a recipe file (YAML; JSON is YAML too).
    static func load(file url: URL) throws -> Recipe {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw RecipeError(message: "cannot read the recipe '\(url.path)': \(error.localizedDescription)")
        }
        var recipe = try parse(yaml: text, source: url.path)
        recipe.resolvePaths(relativeTo: url.deletingLastPathComponent())
        return recipe
    }

    /// Makes every value that names an existing file or folder relative to `base` absolute (a
    /// recipe file's paths are relative to its folder, `--set` paths to the current folder), so
    /// a run does not depend on where it is started and its manifests name the same files.
    mutating func resolvePaths(relativeTo base: URL) {
        top = top.mapValues { Self.resolved($0, base) }
        sections = sections.mapValues { $0.mapValues { Self.resolved($0, base) } }
    }

    private static func resolved(_ entry: RecipeValue, _ base: URL) -> RecipeValue {
        var entry = entry
        entry.values = entry.values.map { value in
            guard !value.isEmpty, !value.hasPrefix("/"), !value.hasPrefix("beir/") else { return value }
            let candidate = base.appendingPathComponent(value).standardizedFileURL
            return FileManager.default.fileExists(atPath: candidate.path) ? candidate.path : value
        }
        return entry
    }

    private static var currentFolder: URL {
        URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }

    /// Parses YAML `text`; `source` names it in messages.
    static func parse(yaml text: String, source: String) throws -> Recipe {
        var recipe = Recipe(source: source, text: text)
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw RecipeError(message: "\(source): not valid YAML: \(error)")
        }
        guard let root else { throw RecipeError(message: "\(source): the recipe is empty") }
        guard let mapping = root.mapping else {
            throw RecipeError(
                message: "\(recipe.place(root)): the recipe must be a mapping (corpus: …, generate: {…}, …)")
        }
        for (keyNode, value) in mapping {
            let raw = keyNode.string ?? ""
            let key = normalized(raw)
            if Self.topKeys.contains(key) {
                guard recipe.top[key] == nil else {
                    throw RecipeError(message: "\(recipe.place(keyNode)): '\(raw)' is given twice")
                }
                recipe.top[key] = try recipe.value(of: value, key: raw)
            } else if let stage = PipelineStage(rawValue: key) {
                guard recipe.sections[stage] == nil else {
                    throw RecipeError(message: "\(recipe.place(keyNode)): section '\(raw)' is given twice")
                }
                recipe.sectionOrigins[stage] = recipe.place(keyNode)
                recipe.sections[stage] = try recipe.section(value, stage: stage)
            } else {
                throw RecipeError(
                    message: "\(recipe.place(keyNode)): unknown key '\(raw)' at the top level; expected"
                        + " \(Self.topKeys.sorted().joined(separator: ", ")) or a stage section ("
                        + PipelineStage.allCases.map(\.rawValue).joined(separator: ", ") + ")")
            }
        }
        return recipe
    }

    /// `file:line` of a node.
    private func place(_ node: Node) -> String {
        node.mark.map { "\(source):\($0.line)" } ?? source
    }

    private func value(of node: Node, key: String) throws -> RecipeValue {
        if let scalar = node.scalar {
            if scalar.style == .plain && ["", "~", "null"].contains(scalar.string) {
                throw RecipeError(message: "\(place(node)): '\(key)' has no value")
            }
            return RecipeValue(values: [scalar.string], origin: place(node))
        }
        if let sequence = node.sequence {
            let values = try sequence.map { item -> String in
                guard let text = item.scalar?.string else {
                    throw RecipeError(message: "\(place(item)): '\(key)' must be a list of plain values")
                }
                return text
            }
            return RecipeValue(values: values, origin: place(node))
        }
        throw RecipeError(
            message: "\(place(node)): '\(key)' must be a value or a list of values, not a mapping")
    }

    private func section(_ node: Node, stage: PipelineStage) throws -> [String: RecipeValue] {
        if let scalar = node.scalar, scalar.style == .plain, ["", "~", "null"].contains(scalar.string) {
            return [:]  // `index:` alone: the stage with its defaults
        }
        guard let mapping = node.mapping else {
            throw RecipeError(
                message: "\(place(node)): section '\(stage.rawValue)' must be a mapping of flag names to values")
        }
        var result: [String: RecipeValue] = [:]
        for (keyNode, value) in mapping {
            let raw = keyNode.string ?? ""
            let key = Self.normalized(raw)
            try Self.checkSettable(key, stage: stage, at: place(keyNode), raw: raw)
            guard result[key] == nil else {
                throw RecipeError(
                    message: "\(place(keyNode)): \(stage.rawValue).\(raw) is given twice (as '-' and '_' spellings?)")
            }
            result[key] = try self.value(of: value, key: "\(stage.rawValue).\(raw)")
        }
        return result
    }

    /// Refuses the keys the pipeline sets itself.
    static func checkSettable(_ key: String, stage: PipelineStage, at place: String, raw: String) throws {
        if stage.wiredFlags.contains(key) {
            throw RecipeError(
                message: "\(place): \(stage.rawValue).\(raw) is set by the pipeline (it joins the"
                    + " stages' files under --work); remove it")
        }
    }

    /// Applies `--set KEY=VALUE` (`corpus=…`, `generate.model=…`), after the file.
    mutating func apply(set assignment: String) throws {
        let origin = "--set \(assignment)"
        guard let equals = assignment.firstIndex(of: "=") else {
            throw RecipeError(message: "\(origin): expected KEY=VALUE (e.g. generate.model=org/name)")
        }
        let path = String(assignment[..<equals])
        let value = String(assignment[assignment.index(after: equals)...])
        guard !value.isEmpty else { throw RecipeError(message: "\(origin): the value is empty") }
        let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
        if parts.count == 1 {
            let key = Self.normalized(parts[0])
            guard Self.topKeys.contains(key) else {
                throw RecipeError(
                    message: "\(origin): unknown key '\(parts[0])'; top-level keys are"
                        + " \(Self.topKeys.sorted().joined(separator: ", ")), stage keys are STAGE.FLAG")
            }
            top[key] = Self.resolved(RecipeValue(values: [value], origin: origin), Self.currentFolder)
            return
        }
        guard let stage = PipelineStage(rawValue: parts[0]) else {
            throw RecipeError(
                message: "\(origin): unknown stage '\(parts[0])'; stages are "
                    + PipelineStage.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let key = Self.normalized(parts[1])
        try Self.checkSettable(key, stage: stage, at: origin, raw: parts[1])
        sections[stage, default: [:]][key] = Self.resolved(
            RecipeValue(values: [value], origin: origin), Self.currentFolder)
        if sectionOrigins[stage] == nil { sectionOrigins[stage] = origin }
    }

    /// A top-level data file, with `split` appended to a `beir/<name>` that names no split.
    func dataFile(_ key: String) throws -> String {
        guard let entry = top[key] else {
            throw RecipeError(
                message: "\(source): '\(key)' is required at the top level (a path or beir/<name>);"
                    + " add it to the recipe or pass --set \(key)=…")
        }
        guard entry.values.count == 1, let value = entry.values.first else {
            throw RecipeError(message: "\(entry.origin): '\(key)' must be one path or beir/<name>, not a list")
        }
        if key != "corpus", let split = top["split"]?.values.first, value.hasPrefix("beir/"),
            value.split(separator: "/").count == 2
        {
            return value + "/" + split
        }
        return value
    }

    /// The recipe as it runs (file plus `--set`), as YAML, for the report.
    var resolvedYAML: String {
        var lines = ["# \(source)" + (hasOverrides ? ", with --set overrides" : "")]
        for key in Self.topKeys.sorted() { if let v = top[key] { lines.append("\(key): \(Self.yaml(v))") } }
        for stage in PipelineStage.allCases {
            guard let section = sections[stage] else { continue }
            lines.append(section.isEmpty ? "\(stage.rawValue): {}" : "\(stage.rawValue):")
            for key in section.keys.sorted() { lines.append("  \(key): \(Self.yaml(section[key]!))") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private var hasOverrides: Bool {
        top.values.contains { $0.origin.hasPrefix("--set") }
            || sections.values.contains { $0.values.contains { $0.origin.hasPrefix("--set") } }
    }

    private static func yaml(_ value: RecipeValue) -> String {
        func quoted(_ s: String) -> String {
            s.allSatisfy { $0.isLetter || $0.isNumber || "-_./@".contains($0) } ? s : "\"\(s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\""
        }
        return value.values.count == 1
            ? quoted(value.values[0]) : "[" + value.values.map(quoted).joined(separator: ", ") + "]"
    }
}

import Foundation
import InparsCore
import InparsModels
import InparsRanker
import InparsTensor
import InparsTokenizers

/// Fine-tunes a reranker (`inpars train`): the loop, the data stream, the optimizer and its
/// schedule, checkpoints, resume and evaluation, shared by every family; what a family does
/// with a batch of examples is its ``RerankerTrainingRecipe`` (``MonoT5Recipe``: monoT5 targets
/// and token cross-entropy; ``CrossEncoderRecipe``: pointwise BCE on a cross-encoder's head).
///
/// A step accumulates ``TrainerOptions/gradientAccumulation`` micro-batches (gradients scaled
/// by `1/accum`), clips the global norm, sets the scheduled learning rate and applies the
/// optimizer.
///
/// Output folder layout: `checkpoint-<step>/` (HF model folder + `trainer_state.json`,
/// `optimizer.safetensors`, `train_log.jsonl`) every ``TrainerOptions/saveEvery`` steps and at
/// the end, `final/` (model folder) at the end, `best/` with ``TrainerOptions/keepBest``, and
/// `train_log.jsonl` (one JSON object per step and per evaluation). Every folder is written
/// under a temporary name and renamed.
public final class RerankerTrainer<Recipe: RerankerTrainingRecipe> {
    /// Test seams.
    public struct Hooks: Sendable {
        /// Called with the temporary folder of every checkpoint just before it is renamed
        /// into place; throwing simulates a failed write (a full disk).
        public var beforeCommit: (@Sendable (URL) throws -> Void)?

        public init(beforeCommit: (@Sendable (URL) throws -> Void)? = nil) {
            self.beforeCommit = beforeCommit
        }
    }

    /// One evaluation's metrics.
    public struct Evaluation: Sendable, Equatable {
        public var step: Int
        public var ndcg10: Double
        public var mrr10: Double
    }

    /// What a finished run did.
    public struct Summary: Sendable {
        public var steps: Int
        public var examplesSeen: Int
        public var lastLoss: Float?
        /// Step 0 (before training, unless resumed) and every later evaluation.
        public var evaluations: [Evaluation]
        /// The `final` model folder.
        public var finalDirectory: URL
        /// The step the run resumed from (0 for a fresh run).
        public var resumedFrom: Int
        /// Distinct examples this run encoded whose document `--max-length` cut.
        public var truncatedExamples: Int
    }

    public let modelDirectory: URL
    public let output: URL
    public let data: TrainingData
    public let options: TrainerOptions
    public let evaluation: TrainingEvaluation?
    public var hooks = Hooks()
    /// When set and requested (the CLI does so on the first Ctrl-C), the run saves a
    /// checkpoint after the current step and throws ``TrainingError/interrupted(step:checkpoint:)``.
    public var stopRequest: StopRequest?
    let sink: ProgressSink

    /// - Parameters:
    ///   - modelDirectory: the Hugging Face folder to start from (its tokenizer files and
    ///     config are copied into every checkpoint).
    ///   - output: the run's folder (created when missing).
    ///   - sink: progress and the run plan (stderr in the CLI).
    public init(
        modelDirectory: URL, output: URL, data: TrainingData, options: TrainerOptions,
        evaluation: TrainingEvaluation? = nil, sink: ProgressSink = StandardErrorProgressSink()
    ) {
        self.modelDirectory = modelDirectory
        self.output = output
        self.data = data
        self.options = options
        self.evaluation = evaluation
        self.sink = sink
    }

    static var logName: String { TrainerFiles.logName }
    static var optimizerName: String { TrainerFiles.optimizerName }

    /// Trains, from scratch or (``resume``) from the latest `checkpoint-<step>` in ``output``:
    /// ``prepare(resume:)``, an evaluation at step 0 (fresh runs), ``step(_:)`` until the last
    /// step with evaluations and checkpoints on schedule, then the final evaluation,
    /// checkpoint and `final/` folder.
    ///
    /// - Throws: ``TrainingError`` (divergence, failed save, resume problems), `ModelError` /
    ///   `CheckpointError` for a model folder that is not a readable checkpoint of the family.
    public func run(resume: Bool = false) throws -> Summary {
        var session = try prepare(resume: resume)
        if session.resumedFrom == nil { try evaluate(&session) }
        session.started = (ProcessInfo.processInfo.systemUptime, session.state.step)
        while session.state.step < session.totalSteps {
            try step(&session)
            let step = session.state.step
            if let every = options.evalEvery, step % every == 0, step != session.totalSteps {
                try evaluate(&session)
            }
            if let every = options.saveEvery, step % every == 0 {
                try saveCheckpoint(&session)
            }
            if let stopRequest, stopRequest.isRequested, step < session.totalSteps {
                if session.savedAtStep != step { try saveCheckpoint(&session) }
                throw TrainingError.interrupted(
                    step: step, checkpoint: session.lastCheckpoint?.path ?? "")
            }
        }
        if session.evaluations.last?.step != session.state.step { try evaluate(&session) }
        if session.savedAtStep != session.state.step { try saveCheckpoint(&session) }
        let final = try save(session, as: "final", withOptimizer: false)
        let state = session.state
        sink.emit(
            "trained \(state.step) steps (\(state.examplesSeen) examples); model saved to \(final.path)",
            transient: false)
        let tally = session.tally
        if tally.seenCount > 0 {
            sink.emit(
                "\(tally.truncatedCount) of the \(tally.seenCount) training examples"
                    + "\(session.resumedFrom == nil ? "" : " this run saw") had their document"
                    + " truncated to --max-length \(options.maxLength)"
                    + (session.recipe.maxLength < options.maxLength
                        ? " (lowered to the model's limit of \(session.recipe.maxLength) tokens)" : ""),
                transient: false)
        }
        return Summary(
            steps: state.step, examplesSeen: state.examplesSeen, lastLoss: state.lastLoss,
            evaluations: session.evaluations, finalDirectory: final,
            resumedFrom: session.resumedFrom ?? 0, truncatedExamples: tally.truncatedCount)
    }

    /// A run in progress: the model and optimizer, where the data stream stands, and what has
    /// been logged and saved.
    public struct Session {
        public internal(set) var model: Recipe.Model
        public internal(set) var state: TrainerState
        public internal(set) var evaluations: [Evaluation] = []
        /// The step the run resumed from, `nil` for a fresh run.
        public let resumedFrom: Int?
        public let totalSteps: Int
        /// The family's tokenizer, inputs and loss.
        public let recipe: Recipe
        /// With distillation: the teacher's score of every example, `[unit][example]`.
        let teacherScores: [[Float]]?
        /// The `config.json` written into every folder.
        let configData: Data
        /// Tokenizer files by name, read at the start: `--keep-last` may delete the checkpoint
        /// this run resumed from, and every later save still needs them.
        let tokenizerFiles: [(name: String, bytes: Data)]
        /// Which examples this run encoded and which lost document tokens to `--max-length`.
        var tally: TruncationTally
        var optimizer: any Optimizer
        var stream: TrainingStream
        let log: JSONLLog
        let unitsPerMicroBatch: Int
        var lastCheckpoint: URL?
        var savedAtStep: Int
        /// Uptime and step when this process started stepping, for the rate and ETA.
        var started: (time: Double, step: Int)
    }

    /// Loads the model and the family's recipe (from the latest checkpoint when resuming, with the
    /// optimizer state, trainer state and log), plans the steps and describes the plan.
    public func prepare(resume: Bool) throws -> Session {
        let manager = FileManager.default
        try validateOptions()
        try prepareOutput()
        let existing = Self.checkpoints(in: output)
        if !resume && !existing.isEmpty {
            throw TrainingError.outputHasCheckpoints(directory: output.path)
        }
        let resumeFrom = resume ? existing.last : nil
        if resume && resumeFrom == nil {
            throw TrainingError.nothingToResume(directory: output.path)
        }
        let sourceDirectory = resumeFrom?.url ?? modelDirectory

        let (model, recipe) = try Recipe.load(
            directory: sourceDirectory, modelDirectory: modelDirectory, options: options)
        let teacherScores = try options.teacher.map { teacher in
            try TeacherScores.load(
                data: data,
                teacher: RelevanceScorers.load(
                    directory: teacher,
                    options: ScorerOptions(
                        maxLength: options.maxLength, batchSize: options.evalBatchSize)),
                teacherName: teacher.standardizedFileURL.path, maxLength: options.maxLength,
                output: output, sink: sink)
        }
        let configData = try checkpointConfig(from: sourceDirectory)
        let perUnit = data.examplesPerUnit
        let unitsPerMicro = options.unitsPerMicroBatch(examplesPerUnit: perUnit)
        let unitsPerStep = unitsPerMicro * options.gradientAccumulation
        let totalSteps = options.totalSteps(unitCount: data.units.count, examplesPerUnit: perUnit)
        var optimizer = makeOptimizer(model)
        var state = TrainerState(
            step: 0, totalSteps: totalSteps, position: 0, epoch: 0, examplesSeen: 0,
            seed: options.seed,
            randomState:
                "data order: per-epoch shuffle seeded by (seed, epoch); dropout of step n seeded by (seed, n)",
            optimizer: options.optimizer.rawValue, dataKind: data.kind.rawValue,
            unitCount: data.units.count, unitsPerStep: unitsPerStep,
            settings: settings(recipe: recipe))
        if let resumeFrom {
            state = try resumeState(from: resumeFrom.url, into: &optimizer, current: state)
        } else {
            try AtomicFile.write(
                Data(), to: output.appendingPathComponent(Self.logName), replacing: Self.logKind)
        }
        describePlan(
            totalSteps: totalSteps, unitsPerStep: unitsPerStep, recipe: recipe,
            resumedAt: state.step)
        return Session(
            model: model, state: state, resumedFrom: resumeFrom?.step, totalSteps: totalSteps,
            recipe: recipe, teacherScores: teacherScores, configData: configData,
            tokenizerFiles: try TrainerFiles.tokenizerFiles.compactMap { name -> (String, Data)? in
                let url = sourceDirectory.appendingPathComponent(name)
                guard manager.fileExists(atPath: url.path) else { return nil }
                do {
                    return (name, try Data(contentsOf: url))
                } catch {
                    throw InparsCoreError.readFailed(
                        path: url.path, reason: plainDescription(of: error))
                }
            },
            tally: TruncationTally(examples: data.exampleCount),
            optimizer: optimizer,
            stream: try TrainingStream(
                unitCount: data.units.count, seed: options.seed, position: state.position),
            log: try JSONLLog(url: output.appendingPathComponent(Self.logName)),
            unitsPerMicroBatch: unitsPerMicro, lastCheckpoint: resumeFrom?.url,
            savedAtStep: resumeFrom != nil ? state.step : -1,
            started: (ProcessInfo.processInfo.systemUptime, state.step))
    }

    /// The trainer state of checkpoint `directory`, after checking it against the current
    /// settings; loads its optimizer state into `optimizer` and restores the log.
    func resumeState(
        from directory: URL, into optimizer: inout any Optimizer, current: TrainerState
    ) throws -> TrainerState {
        var saved = try TrainerState.read(directory: directory)
        try checkCompatible(saved, with: current)
        let optimizerState = try OptimizerState.read(
            from: directory.appendingPathComponent(Self.optimizerName))
        guard optimizerState.step == saved.step else {
            throw TrainingError.invalidTrainerState(
                path: directory.path,
                reason: "optimizer step \(optimizerState.step) differs from trainer step \(saved.step)")
        }
        try optimizer.importState(optimizerState)
        saved.totalSteps = current.totalSteps
        saved.settings = current.settings
        // The log continues from the checkpoint's copy (later lines belong to lost steps).
        let savedLog = directory.appendingPathComponent(Self.logName)
        let log = (try? Data(contentsOf: savedLog)) ?? Data()
        try AtomicFile.write(
            log, to: output.appendingPathComponent(Self.logName), replacing: Self.logKind)
        return saved
    }

    /// One optimizer step: ``TrainerOptions/gradientAccumulation`` micro-batches of gradients
    /// (scaled by `1/accum`), clipping, the scheduled learning rate, the update; then the
    /// state, the log line and the progress line.
    ///
    /// - Throws: ``TrainingError/nonFiniteLoss(step:value:lastCheckpoint:)`` before anything of
    ///   the step is applied.
    public func step(_ session: inout Session) throws {
        let stepNumber = session.state.step + 1
        var dropoutGenerator = SeededGenerator(
            seed: mixSeed(options.seed, UInt64(stepNumber), salt: 0x64726F70))
        var gradients = session.model.parameters.zeros()
        var lossSum: Float = 0
        for _ in 0..<options.gradientAccumulation {
            let units = session.stream.next(session.unitsPerMicroBatch)
            let examples = self.examples(units)
            let teacher = session.teacherScores.map { scores in
                examples.map { scores[$0.index / data.examplesPerUnit][$0.index % data.examplesPerUnit] }
            }
            let result = session.recipe.accumulateGradients(
                model: session.model, examples: examples.map(\.example), teacherScores: teacher,
                options: options,
                gradientScale: 1 / Float(options.gradientAccumulation), into: &gradients,
                using: &dropoutGenerator)
            for (example, truncated) in zip(examples, result.truncated) {
                session.tally.record(example.index, truncated: truncated)
            }
            lossSum += result.loss
        }
        let loss = lossSum / Float(options.gradientAccumulation)
        let norm = GradientClipping.clip(
            &gradients, maxNorm: options.maxGradNorm > 0 ? options.maxGradNorm : .infinity)
        guard loss.isFinite, norm.isFinite else {
            throw TrainingError.nonFiniteLoss(
                step: stepNumber, value: loss.isFinite ? norm : loss,
                lastCheckpoint: session.lastCheckpoint?.path)
        }
        let rate = learningRate(afterSteps: session.state.step, totalSteps: session.totalSteps)
        session.optimizer.learningRate = rate
        session.model.updateParameters { session.optimizer.step(&$0, gradients: gradients) }
        let unitsPerStep = session.unitsPerMicroBatch * options.gradientAccumulation
        session.state.step = stepNumber
        session.state.position = session.stream.position
        session.state.epoch = session.stream.epoch
        session.state.examplesSeen += unitsPerStep * data.examplesPerUnit
        session.state.lastLoss = loss
        try session.log.append([
            "step": .int(stepNumber), "loss": .double(Double(loss)),
            "learning_rate": .double(rate), "grad_norm": .double(Double(norm)),
            "epoch": .double(Double(session.state.position) / Double(data.units.count)),
            "examples_seen": .int(session.state.examplesSeen),
        ])
        if stepNumber % max(options.logEvery, 1) == 0 || stepNumber == session.totalSteps {
            reportProgress(session, loss: loss, rate: rate, norm: norm)
        }
    }

    private func reportProgress(_ session: Session, loss: Float, rate: Double, norm: Float) {
        let elapsed = ProcessInfo.processInfo.systemUptime - session.started.time
        let done = session.state.step - session.started.step
        let unitsPerStep = session.unitsPerMicroBatch * options.gradientAccumulation
        let examplesPerSecond =
            elapsed > 0 ? Double(done * unitsPerStep * data.examplesPerUnit) / elapsed : 0
        let eta = elapsed / Double(done) * Double(session.totalSteps - session.state.step)
        sink.emit(
            "step \(session.state.step)/\(session.totalSteps): loss \(formatFixed(Double(loss), decimals: 4)), lr \(String(format: "%.2e", rate)), grad norm \(formatFixed(Double(norm), decimals: 3)), \(formatFixed(examplesPerSecond, decimals: 2)) examples/s, ETA \(Self.duration(eta))",
            transient: false)
    }

    /// Evaluates the current weights (when evaluation is configured), logs the metrics and,
    /// with ``TrainerOptions/keepBest``, saves `best/` on a new best nDCG@10.
    public func evaluate(_ session: inout Session) throws {
        guard let evaluation else { return }
        let metrics = try evaluation.evaluate(
            scorer: session.recipe.scorer(model: session.model, options: options))
        let step = session.state.step
        session.evaluations.append(
            Evaluation(step: step, ndcg10: metrics.ndcg10, mrr10: metrics.mrr10))
        try session.log.append([
            "step": .int(step), "eval_ndcg@10": .double(metrics.ndcg10),
            "eval_mrr@10": .double(metrics.mrr10),
        ])
        var line =
            "eval at step \(step): nDCG@10 \(formatFixed(metrics.ndcg10, decimals: 4)), MRR@10 \(formatFixed(metrics.mrr10, decimals: 4))"
        if options.keepBest, metrics.ndcg10 > (session.state.bestMetric ?? -.infinity) {
            session.state.bestMetric = metrics.ndcg10
            session.state.bestStep = step
            _ = try save(session, as: "best", withOptimizer: false)
            line += " (best so far, saved to best/)"
        }
        sink.emit(line, transient: false)
    }

    /// Saves `checkpoint-<step>/` with the optimizer state, then prunes old ones
    /// (``TrainerOptions/keepLast``).
    public func saveCheckpoint(_ session: inout Session) throws {
        session.lastCheckpoint = try save(
            session, as: "checkpoint-\(session.state.step)", withOptimizer: true)
        session.savedAtStep = session.state.step
        if let keep = options.keepLast {
            for old in Self.checkpoints(in: output).dropLast(keep) {
                try? FileManager.default.removeItem(at: old.url)
            }
        }
    }

    /// Writes the model folder `name` in ``output`` (weights, config, tokenizer files, trainer
    /// state, log so far, and optionally the optimizer state) under a temporary name, then
    /// renames it into place.
    ///
    /// - Throws: ``TrainingError/saveFailed(path:reason:previous:)`` naming the last intact
    ///   checkpoint.
    public func save(_ session: Session, as name: String, withOptimizer: Bool) throws -> URL {
        let target = output.appendingPathComponent(name)
        let tensors = session.model.parameters.checkpointTensors()
        let logData = (try? Data(contentsOf: output.appendingPathComponent(Self.logName))) ?? Data()
        let optimizerState = withOptimizer ? session.optimizer.exportState() : nil
        let stateData = session.state.encoded()
        let hook = hooks.beforeCommit
        do {
            try AtomicFile.writeDirectory(at: target, replacing: Self.folderKind) { folder in
                try SafetensorsWriter.write(
                    tensors, to: folder.appendingPathComponent("model.safetensors"))
                try session.configData.write(to: folder.appendingPathComponent("config.json"))
                for (name, bytes) in session.tokenizerFiles {
                    try bytes.write(to: folder.appendingPathComponent(name))
                }
                try stateData.write(to: folder.appendingPathComponent(TrainerState.fileName))
                try logData.write(to: folder.appendingPathComponent(Self.logName))
                if let optimizerState {
                    try optimizerState.write(to: folder.appendingPathComponent(Self.optimizerName))
                }
                try hook?(folder)
            }
        } catch {
            throw TrainingError.saveFailed(
                path: target.path, reason: Self.describe(error),
                previous: session.lastCheckpoint?.path)
        }
        return target
    }

    // MARK: - Pieces

    /// Options and data a run cannot start with (InPars #17: never train on zero examples or
    /// for zero steps).
    func validateOptions() throws {
        func invalid(_ name: String, _ value: Any, _ reason: String) -> TrainingError {
            .invalidOption(name: name, value: "\(value)", reason: reason)
        }
        if data.units.isEmpty { throw TrainingError.noExamples }
        let perUnit = data.examplesPerUnit
        guard options.batchSize >= perUnit, options.batchSize % perUnit == 0 else {
            throw invalid(
                "--batch-size", options.batchSize,
                data.kind == .triples
                    ? "with triples it must be even (a positive and a negative per triple)"
                    : "must be at least 1")
        }
        guard options.gradientAccumulation >= 1, options.gradientAccumulation <= Limits.batch
        else { throw invalid("--grad-accum", options.gradientAccumulation, "must be 1…\(Limits.batch)") }
        switch (options.steps, options.epochs) {
        case (let steps?, nil):
            guard steps >= 1 else { throw TrainingError.noTrainingSteps(reason: "--steps is \(steps)") }
            guard steps <= Limits.steps else { throw invalid("--steps", steps, "too many") }
        case (nil, let epochs?):
            guard epochs > 0, epochs <= 1e6 else {
                throw TrainingError.noTrainingSteps(reason: "--epochs is \(epochs)")
            }
        default:
            throw invalid("--steps/--epochs", "both or neither", "give exactly one of them")
        }
        switch (options.effectiveLoss, options.teacher) {
        case (.marginMSE, nil):
            throw invalid("--loss", "margin-mse", "needs --teacher DIR, whose score margins it learns")
        case (.bce, _?):
            throw invalid(
                "--loss", "bce", "ignores the --teacher; distil with --loss margin-mse (the default with --teacher)")
        case (.marginMSE, _?) where data.kind != .triples:
            throw invalid("--loss", "margin-mse", "learns margins between a positive and a negative: train on --triples")
        default: break
        }
        guard options.warmupSteps >= 0 else {
            throw invalid("--warmup-steps", options.warmupSteps, "must be ≥ 0")
        }
    }

    /// What the trainer may replace in its output folder: its own model folders
    /// (`checkpoint-<step>`, `final`, `best`) and its log.
    static var folderKind: OutputKind { TrainerFiles.folderKind }
    static var logKind: OutputKind { TrainerFiles.logKind }

    /// Creates the output folder when missing, and refuses, before any training, an output
    /// that is a file or whose `final`, `best` or log are not the trainer's.
    func prepareOutput() throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: output.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw InparsCoreError.writeFailed(
                    path: output.path, reason: "it is a file; --output must be a folder")
            }
        } else {
            do {
                try FileManager.default.createDirectory(
                    at: output, withIntermediateDirectories: true)
            } catch {
                throw InparsCoreError.writeFailed(
                    path: output.path, reason: plainDescription(of: error))
            }
        }
        for name in ["final", "best"] {
            try Self.folderKind.check(output.appendingPathComponent(name))
        }
        for (_, url) in Self.checkpoints(in: output) { try Self.folderKind.check(url) }
        try Self.logKind.check(output.appendingPathComponent(Self.logName))
    }

    /// `checkpoint-<step>` folders holding a trainer state, by step.
    public static func checkpoints(in directory: URL) -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst(11)), step >= 0
            else { return nil }
            let url = directory.appendingPathComponent(name)
            guard
                FileManager.default.fileExists(
                    atPath: url.appendingPathComponent(TrainerState.fileName).path)
            else { return nil }
            return (step, url)
        }.sorted { $0.0 < $1.0 }
    }

    /// Which training examples this run has encoded, and which of them lost document tokens
    /// to `--max-length` (each counted once however often it is seen).
    struct TruncationTally {
        private var seen: [Bool]
        private var truncated: [Bool]
        private(set) var seenCount = 0
        private(set) var truncatedCount = 0

        init(examples: Int) {
            seen = Array(repeating: false, count: examples)
            truncated = Array(repeating: false, count: examples)
        }

        mutating func record(_ example: Int, truncated wasTruncated: Bool) {
            if !seen[example] {
                seen[example] = true
                seenCount += 1
            }
            if wasTruncated && !truncated[example] {
                truncated[example] = true
                truncatedCount += 1
            }
        }
    }

    /// The examples of `units` in order, with their indices in the training data (unit `u`'s
    /// examples are `u · examplesPerUnit …`).
    func examples(_ units: [Int]) -> [(index: Int, example: TrainingExample)] {
        units.flatMap { unit in
            data.units[unit].enumerated().map { (unit * data.examplesPerUnit + $0, $1) }
        }
    }

    func makeOptimizer(_ model: Recipe.Model) -> any Optimizer {
        let parameters = model.parameterTable.optimizerParameters
        switch options.optimizer {
        case .adamw:
            // Hugging Face Trainer exempts norm weights and biases (T5 has none) from decay.
            let noDecay = Set(
                parameters.map(\.name).filter {
                    $0.contains("layer_norm") || $0.contains("LayerNorm") || $0.hasSuffix(".bias")
                })
            return AdamW(
                parameters: parameters, learningRate: options.learningRate,
                weightDecay: options.weightDecay, noDecay: noDecay)
        case .adafactor:
            var adafactor = Adafactor.fineTuning(
                parameters: parameters, learningRate: options.learningRate)
            adafactor.weightDecay = options.weightDecay
            return adafactor
        }
    }

    func learningRate(afterSteps steps: Int, totalSteps: Int) -> Double {
        let schedule: LearningRateSchedule =
            switch options.schedule {
            case .constant: .constant(warmupSteps: options.warmupSteps)
            case .linear: .linear(warmupSteps: options.warmupSteps, totalSteps: totalSteps)
            }
        return schedule.learningRate(base: options.learningRate, afterSteps: steps)
    }

    /// The source `config.json` byte for byte, with `_name_or_path` inserted when absent (so
    /// FLAN-T5 stays recognisable in `checkpoint-<step>` folders).
    ///
    /// The file is not re-serialised: a JSON round trip would turn `1.0` into `1`, which
    /// transformers 5's strict config validation rejects for float fields.
    func checkpointConfig(from directory: URL) throws -> Data {
        let url = directory.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path),
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let text = String(data: data, encoding: .utf8),
            let brace = text.firstIndex(of: "{")
        else {
            throw ModelError.invalidConfiguration(path: url.path, reason: "not a JSON object")
        }
        if object["_name_or_path"] != nil { return data }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let name = try encoder.encode(modelDirectory.standardizedFileURL.path)
        let rest = text[text.index(after: brace)...]
        let isEmpty = rest.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("}")
        let inserted =
            text[...brace] + "\n  \"_name_or_path\": " + String(decoding: name, as: UTF8.self)
            + (isEmpty ? "" : ",") + rest
        return Data(inserted.utf8)
    }

    /// The options that change what a run computes, as `trainer_state.json` records them; a
    /// resumed run must match every one (the help says "same options required").
    func settings(recipe: Recipe) -> [String: String] {
        // The teacher only when there is one, so older checkpoints still resume.
        let teacher = options.teacher.map { ["--teacher": $0.standardizedFileURL.path] } ?? [:]
        return recipe.settings.merging(teacher) { own, _ in own }.merging([
            "--lr": "\(options.learningRate)", "--weight-decay": "\(options.weightDecay)",
            "--schedule": options.schedule.rawValue, "--warmup-steps": "\(options.warmupSteps)",
            "--max-grad-norm": "\(options.maxGradNorm)", "--dropout": "\(options.dropout)",
            "--max-length": "\(options.maxLength)",
            "--batch-size": "\(options.batchSize)", "--grad-accum": "\(options.gradientAccumulation)",
            "training data":
                "\(data.kind.rawValue), \(data.units.count) units, fingerprint \(data.fingerprint)",
        ]) { own, _ in own }
    }

    /// Every difference between a checkpoint's settings and this run's, named.
    ///
    /// - Throws: ``TrainingError/resumeMismatch(differences:)``.
    func checkCompatible(_ saved: TrainerState, with current: TrainerState) throws {
        // Fields every checkpoint has, then the recorded settings (absent in old checkpoints).
        var old: [String: String] = [
            "--optimizer": saved.optimizer, "--seed": String(saved.seed),
            "training data kind": saved.dataKind, "training units": String(saved.unitCount),
            "units per step (batch × accumulation)": String(saved.unitsPerStep),
        ]
        var new: [String: String] = [
            "--optimizer": current.optimizer, "--seed": String(current.seed),
            "training data kind": current.dataKind, "training units": String(current.unitCount),
            "units per step (batch × accumulation)": String(current.unitsPerStep),
        ]
        if let savedSettings = saved.settings, let currentSettings = current.settings {
            old.merge(savedSettings) { a, _ in a }
            new.merge(currentSettings) { a, _ in a }
        }
        var differences = old.keys.sorted().compactMap { key -> String? in
            let (a, b) = (old[key] ?? "(unset)", new[key] ?? "(unset)")
            return a == b ? nil : "\(key): \(a) → \(b)"
        }
        // Implied by the differences named above: keep the message to what the user changed.
        if old["--batch-size"] != new["--batch-size"] || old["--grad-accum"] != new["--grad-accum"] {
            differences.removeAll { $0.hasPrefix("units per step") }
        }
        if old["training data"] != new["training data"] {
            differences.removeAll { $0.hasPrefix("training units") || $0.hasPrefix("training data kind") }
        }
        // A linear schedule decays to 0 at the last step: its length shapes every step's rate.
        if saved.settings?["--schedule"] == "linear", current.settings?["--schedule"] == "linear",
            saved.totalSteps != current.totalSteps
        {
            differences.append(
                "total steps (--steps/--epochs; the linear schedule depends on it): \(saved.totalSteps) → \(current.totalSteps)")
        }
        if !differences.isEmpty { throw TrainingError.resumeMismatch(differences: differences) }
    }

    func describePlan(
        totalSteps: Int, unitsPerStep: Int, recipe: Recipe, resumedAt: Int
    ) {
        let perUnit = data.examplesPerUnit
        let examples = data.exampleCount
        // In Double: steps × batch × accumulation may exceed Int for absurd (validated) inputs.
        let seen = Double(totalSteps) * Double(unitsPerStep) * Double(perUnit)
        let epochs = seen / Double(examples)
        var source =
            data.kind == .triples
            ? "\(data.units.count) triples → \(examples) examples (half positive)"
            : "\(examples) pairs"
        if data.skippedLines > 0 { source += ", \(data.skippedLines) malformed lines skipped" }
        sink.emit("training data: \(source)", transient: false)
        var plan =
            "this run sees \(formatFixed(seen, decimals: 0)) examples: \(totalSteps) steps × batch \(options.batchSize) × accumulation \(options.gradientAccumulation) = \(formatFixed(epochs, decimals: 2)) epochs of the \(examples) training examples"
        if epochs < 1 {
            plan += " (only \(Int((epochs * 100).rounded()))% of the data will be seen)"
        }
        sink.emit(plan, transient: false)
        sink.emit(
            "optimizer \(options.optimizer.rawValue), lr \(options.learningRate) \(options.schedule.rawValue) (warmup \(options.warmupSteps)), weight decay \(options.weightDecay), max grad norm \(options.maxGradNorm), dropout \(options.dropout), \(recipe.objective), seed \(options.seed)",
            transient: false)
        if resumedAt > 0 {
            sink.emit("resuming at step \(resumedAt)", transient: false)
        }
    }

    static func describe(_ error: any Error) -> String {
        if let checkpoint = error as? CheckpointError, case .io(_, let reason) = checkpoint {
            return reason
        }
        return plainDescription(of: error)
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}

/// The names and kinds of what the trainer writes, shared by every family.
enum TrainerFiles {
    static let logName = "train_log.jsonl"
    static let optimizerName = "optimizer.safetensors"
    /// Copied from the source folder into every checkpoint when present (tokenizers of every
    /// family: SentencePiece, `tokenizer.json`, WordPiece `vocab.txt`).
    static let tokenizerFiles = [
        "spiece.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "added_tokens.json", "generation_config.json", "vocab.txt", "sentencepiece.bpe.model",
    ]
    /// What the trainer may replace in its output folder: its own model folders
    /// (`checkpoint-<step>`, `final`, `best`) and its log.
    static let folderKind = Checkpoint.modelFolderKind()
    static let logKind = OutputKind.file("a training log") { line in
        (try? JSONLine.parseObject(line))?["step"] != nil
    }
}

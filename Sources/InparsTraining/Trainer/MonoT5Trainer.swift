import Foundation
import InparsCore
import InparsModels
import InparsRanker
import InparsTensor
import InparsTokenizers

/// Fine-tunes a T5 model as a monoT5 reranker (`inpars train`).
///
/// Each example becomes encoder input `Query: {q} Document: {d} Relevant:` (document
/// truncated to ``TrainerOptions/maxLength``, ``MonoT5InputBuilder``) and target
/// `▁true </s>` / `▁false </s>` (`▁yes`/`▁no` for FLAN-T5); the loss is the mean token
/// cross-entropy over the targets. A step accumulates ``TrainerOptions/gradientAccumulation``
/// micro-batches (gradients scaled by `1/accum`), clips the global norm, sets the scheduled
/// learning rate and applies the optimizer.
///
/// Output folder layout: `checkpoint-<step>/` (HF model folder + `trainer_state.json`,
/// `optimizer.safetensors`, `train_log.jsonl`) every ``TrainerOptions/saveEvery`` steps and at
/// the end, `final/` (model folder) at the end, `best/` with ``TrainerOptions/keepBest``, and
/// `train_log.jsonl` (one JSON object per step and per evaluation). Every folder is written
/// under a temporary name and renamed.
public final class MonoT5Trainer {
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
    }

    public let modelDirectory: URL
    public let output: URL
    public let data: TrainingData
    public let options: TrainerOptions
    public let evaluation: TrainingEvaluation?
    public var hooks = Hooks()
    let sink: ProgressSink

    /// - Parameters:
    ///   - modelDirectory: the Hugging Face T5 folder to start from (its tokenizer files and
    ///     config are copied into every checkpoint).
    ///   - output: the run's folder (created when missing).
    ///   - sink: progress and the run plan (stderr in the CLI).
    public init(
        modelDirectory: URL, output: URL, data: TrainingData, options: TrainerOptions,
        evaluation: TrainingEvaluation? = nil, sink: ProgressSink = StandardErrorProgressSink()
    ) {
        precondition(options.batchSize >= data.examplesPerUnit, "batch smaller than one unit")
        precondition(
            options.batchSize % data.examplesPerUnit == 0,
            "with triples the batch size must be even")
        precondition((options.steps == nil) != (options.epochs == nil), "give steps or epochs")
        self.modelDirectory = modelDirectory
        self.output = output
        self.data = data
        self.options = options
        self.evaluation = evaluation
        self.sink = sink
    }

    static let logName = "train_log.jsonl"
    static let optimizerName = "optimizer.safetensors"
    static let tokenizerFiles = [
        "spiece.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "added_tokens.json", "generation_config.json",
    ]

    /// Trains, from scratch or (``resume``) from the latest `checkpoint-<step>` in ``output``.
    ///
    /// - Throws: ``TrainingError`` (divergence, failed save, resume problems), `ModelError` /
    ///   `CheckpointError` for a model folder that is not a readable T5 checkpoint.
    public func run(resume: Bool = false) throws -> Summary {
        let manager = FileManager.default
        do {
            try manager.createDirectory(at: output, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.saveFailed(
                path: output.path, reason: error.localizedDescription, previous: nil)
        }
        let existing = Self.checkpoints(in: output)
        if !resume && !existing.isEmpty {
            throw TrainingError.outputHasCheckpoints(directory: output.path)
        }
        let resumeFrom = resume ? existing.last : nil
        if resume && resumeFrom == nil {
            throw TrainingError.nothingToResume(directory: output.path)
        }
        let sourceDirectory = resumeFrom?.url ?? modelDirectory

        // Model, tokenizer, labels.
        var model = try T5Model.load(directory: sourceDirectory)
        let tokenizer = try SentencePieceTokenizer.load(directory: sourceDirectory)
        let labels =
            options.labels
            ?? MonoT5Reranker.Labels.detect(
                hint: ModelFolderName.of(modelDirectory),
                nameOrPath: model.configuration.nameOrPath,
                modelType: model.configuration.modelType)
        let targets = try labelTargets(labels, tokenizer: tokenizer)
        let inputs = MonoT5InputBuilder(tokenizer: tokenizer, maxLength: options.maxLength)
        let configData = try checkpointConfig(from: sourceDirectory)

        // Plan.
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
            unitCount: data.units.count, unitsPerStep: unitsPerStep)
        if let resumeFrom {
            let saved = try TrainerState.read(directory: resumeFrom.url)
            try checkCompatible(saved, with: state)
            let optimizerState = try OptimizerState.read(
                from: resumeFrom.url.appendingPathComponent(Self.optimizerName))
            guard optimizerState.step == saved.step else {
                throw TrainingError.invalidTrainerState(
                    path: resumeFrom.url.path,
                    reason:
                        "optimizer step \(optimizerState.step) differs from trainer step \(saved.step)"
                )
            }
            try optimizer.importState(optimizerState)
            state = saved
            state.totalSteps = totalSteps
            // The log continues from the checkpoint's copy (later lines belong to lost steps).
            let savedLog = resumeFrom.url.appendingPathComponent(Self.logName)
            let log = (try? Data(contentsOf: savedLog)) ?? Data()
            try AtomicFile.write(log, to: output.appendingPathComponent(Self.logName))
        } else {
            try AtomicFile.write(Data(), to: output.appendingPathComponent(Self.logName))
        }
        var lastCheckpoint = resumeFrom?.url
        let log = try JSONLLog(url: output.appendingPathComponent(Self.logName))
        describePlan(
            totalSteps: totalSteps, unitsPerStep: unitsPerStep, labels: labels,
            resumedAt: state.step)

        var stream = TrainingStream(
            unitCount: data.units.count, seed: options.seed, position: state.position)
        var evaluations: [Evaluation] = []
        let tokenizerSources = Self.tokenizerFiles.map {
            sourceDirectory.appendingPathComponent($0)
        }
        .filter { manager.fileExists(atPath: $0.path) }

        func writeFolder(_ name: String, withOptimizer: Bool) throws -> URL {
            let target = output.appendingPathComponent(name)
            let tensors = model.checkpointTensors
            let logData =
                (try? Data(contentsOf: output.appendingPathComponent(Self.logName))) ?? Data()
            let optimizerState = withOptimizer ? optimizer.exportState() : nil
            let stateData = state.encoded()
            let hook = hooks.beforeCommit
            do {
                try AtomicFile.writeDirectory(at: target) { folder in
                    try SafetensorsWriter.write(
                        tensors, to: folder.appendingPathComponent("model.safetensors"))
                    try configData.write(to: folder.appendingPathComponent("config.json"))
                    for source in tokenizerSources {
                        // Resolve symlinks: a Hub cache snapshot links to its blobs.
                        try manager.copyItem(
                            at: source.resolvingSymlinksInPath(),
                            to: folder.appendingPathComponent(source.lastPathComponent))
                    }
                    try stateData.write(to: folder.appendingPathComponent(TrainerState.fileName))
                    try logData.write(to: folder.appendingPathComponent(Self.logName))
                    if let optimizerState {
                        try optimizerState.write(
                            to: folder.appendingPathComponent(Self.optimizerName))
                    }
                    try hook?(folder)
                }
            } catch {
                throw TrainingError.saveFailed(
                    path: target.path, reason: Self.describe(error), previous: lastCheckpoint?.path)
            }
            if name.hasPrefix("checkpoint-"), let keep = options.keepLast {
                for old in Self.checkpoints(in: output).dropLast(keep) {
                    try? manager.removeItem(at: old.url)
                }
            }
            return target
        }

        func evaluate() throws {
            guard let evaluation else { return }
            let metrics = try evaluation.evaluate(
                scorer: MonoT5Reranker(
                    model: model, tokenizer: tokenizer,
                    options: ScorerOptions(
                        maxLength: options.maxLength, batchSize: options.evalBatchSize,
                        labels: labels)))
            evaluations.append(
                Evaluation(step: state.step, ndcg10: metrics.ndcg10, mrr10: metrics.mrr10))
            try log.append([
                "step": .int(state.step), "eval_ndcg@10": .double(metrics.ndcg10),
                "eval_mrr@10": .double(metrics.mrr10),
            ])
            var line =
                "eval at step \(state.step): nDCG@10 \(formatFixed(metrics.ndcg10, decimals: 4)), MRR@10 \(formatFixed(metrics.mrr10, decimals: 4))"
            if options.keepBest, metrics.ndcg10 > (state.bestMetric ?? -.infinity) {
                state.bestMetric = metrics.ndcg10
                state.bestStep = state.step
                _ = try writeFolder("best", withOptimizer: false)
                line += " (best so far, saved to best/)"
            }
            sink.emit(line, transient: false)
        }

        if resumeFrom == nil { try evaluate() }
        let start = ProcessInfo.processInfo.systemUptime
        let firstStep = state.step
        var savedAtStep = resumeFrom != nil ? state.step : -1
        while state.step < totalSteps {
            let stepNumber = state.step + 1
            var dropoutGenerator = SeededGenerator(
                seed: mixSeed(options.seed, UInt64(stepNumber), salt: 0x64726F70))
            var gradients = model.zeroGradients()
            var lossSum: Float = 0
            for _ in 0..<options.gradientAccumulation {
                let batch = makeBatch(stream.next(unitsPerMicro), inputs: inputs, targets: targets)
                let result = T5Backpropagation.accumulateGradients(
                    model: model, batch: batch, dropoutRate: options.dropout,
                    crossAttention: options.crossAttention,
                    gradientScale: 1 / Float(options.gradientAccumulation), into: &gradients,
                    using: &dropoutGenerator)
                lossSum += result.loss
            }
            let loss = lossSum / Float(options.gradientAccumulation)
            let norm = T5Model.clipGradients(
                &gradients, maxNorm: options.maxGradNorm > 0 ? options.maxGradNorm : .infinity)
            guard loss.isFinite, norm.isFinite else {
                throw TrainingError.nonFiniteLoss(
                    step: stepNumber, value: loss.isFinite ? norm : loss,
                    lastCheckpoint: lastCheckpoint?.path)
            }
            let rate = learningRate(afterSteps: state.step, totalSteps: totalSteps)
            setLearningRate(&optimizer, rate)
            model.apply(&optimizer, gradients: gradients)
            state.step = stepNumber
            state.position = stream.position
            state.epoch = stream.epoch
            state.examplesSeen += unitsPerStep * perUnit
            state.lastLoss = loss

            let elapsed = ProcessInfo.processInfo.systemUptime - start
            let done = state.step - firstStep
            let examplesPerSecond =
                elapsed > 0 ? Double(done * unitsPerStep * perUnit) / elapsed : 0
            try log.append([
                "step": .int(state.step), "loss": .double(Double(loss)),
                "learning_rate": .double(rate), "grad_norm": .double(Double(norm)),
                "epoch": .double(Double(state.position) / Double(data.units.count)),
                "examples_seen": .int(state.examplesSeen),
            ])
            if state.step % max(options.logEvery, 1) == 0 || state.step == totalSteps {
                let eta = elapsed / Double(done) * Double(totalSteps - state.step)
                sink.emit(
                    "step \(state.step)/\(totalSteps): loss \(formatFixed(Double(loss), decimals: 4)), lr \(String(format: "%.2e", rate)), grad norm \(formatFixed(Double(norm), decimals: 3)), \(formatFixed(examplesPerSecond, decimals: 2)) examples/s, ETA \(Self.duration(eta))",
                    transient: false)
            }
            if let every = options.evalEvery, state.step % every == 0, state.step != totalSteps {
                try evaluate()
            }
            if let every = options.saveEvery, state.step % every == 0 {
                lastCheckpoint = try writeFolder("checkpoint-\(state.step)", withOptimizer: true)
                savedAtStep = state.step
            }
        }
        if evaluations.last?.step != state.step { try evaluate() }
        if savedAtStep != state.step {
            lastCheckpoint = try writeFolder("checkpoint-\(state.step)", withOptimizer: true)
        }
        let final = try writeFolder("final", withOptimizer: false)
        sink.emit(
            "trained \(state.step) steps (\(state.examplesSeen) examples); model saved to \(final.path)",
            transient: false)
        return Summary(
            steps: state.step, examplesSeen: state.examplesSeen, lastLoss: state.lastLoss,
            evaluations: evaluations, finalDirectory: final, resumedFrom: resumeFrom?.step ?? 0)
    }

    // MARK: - Pieces

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

    func labelTargets(_ labels: MonoT5Reranker.Labels, tokenizer: SentencePieceTokenizer) throws
        -> (positive: [Int32], negative: [Int32])
    {
        let (positive, negative) = labels.pieces
        guard let p = tokenizer.id(forPiece: positive) else {
            throw TrainingError.missingLabelPiece(piece: positive)
        }
        guard let n = tokenizer.id(forPiece: negative) else {
            throw TrainingError.missingLabelPiece(piece: negative)
        }
        return ([p, tokenizer.eosID], [n, tokenizer.eosID])
    }

    func makeBatch(
        _ unitIndices: [Int], inputs: MonoT5InputBuilder,
        targets: (positive: [Int32], negative: [Int32])
    ) -> T5TrainingBatch {
        var encoder = [[Int32]]()
        var labels = [[Int32]]()
        for index in unitIndices {
            for example in data.units[index] {
                encoder.append(inputs.inputIDs(query: example.query, document: example.passage))
                labels.append(example.relevant ? targets.positive : targets.negative)
            }
        }
        return T5TrainingBatch(inputs: encoder, labels: labels)
    }

    func makeOptimizer(_ model: T5Model) -> any Optimizer {
        let parameters = model.optimizerParameters
        switch options.optimizer {
        case .adamw:
            // Hugging Face Trainer exempts norm weights (and biases, which T5 lacks) from decay.
            let noDecay = Set(parameters.map(\.name).filter { $0.contains("layer_norm") })
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

    func setLearningRate(_ optimizer: inout any Optimizer, _ rate: Double) {
        if var adam = optimizer as? AdamW {
            adam.learningRate = rate
            optimizer = adam
        } else if var adafactor = optimizer as? Adafactor {
            adafactor.learningRate = rate
            optimizer = adafactor
        }
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

    func checkCompatible(_ saved: TrainerState, with current: TrainerState) throws {
        let pairs: [(String, String, String)] = [
            ("--optimizer", saved.optimizer, current.optimizer),
            ("training data kind", saved.dataKind, current.dataKind),
            ("training units (lines)", String(saved.unitCount), String(current.unitCount)),
            (
                "units per step (batch × accumulation)", String(saved.unitsPerStep),
                String(current.unitsPerStep)
            ),
            ("--seed", String(saved.seed), String(current.seed)),
        ]
        for (field, old, new) in pairs where old != new {
            throw TrainingError.resumeMismatch(field: field, checkpoint: old, current: new)
        }
    }

    func describePlan(
        totalSteps: Int, unitsPerStep: Int, labels: MonoT5Reranker.Labels, resumedAt: Int
    ) {
        let perUnit = data.examplesPerUnit
        let examples = data.exampleCount
        let seen = totalSteps * unitsPerStep * perUnit
        let epochs = Double(seen) / Double(examples)
        var source =
            data.kind == .triples
            ? "\(data.units.count) triples → \(examples) examples (half positive)"
            : "\(examples) pairs"
        if data.skippedLines > 0 { source += ", \(data.skippedLines) malformed lines skipped" }
        sink.emit("training data: \(source)", transient: false)
        var plan =
            "this run sees \(seen) examples: \(totalSteps) steps × batch \(options.batchSize) × accumulation \(options.gradientAccumulation) = \(formatFixed(epochs, decimals: 2)) epochs of the \(examples) training examples"
        if epochs < 1 {
            plan += " (only \(Int((epochs * 100).rounded()))% of the data will be seen)"
        }
        sink.emit(plan, transient: false)
        sink.emit(
            "optimizer \(options.optimizer.rawValue), lr \(options.learningRate) \(options.schedule.rawValue) (warmup \(options.warmupSteps)), weight decay \(options.weightDecay), max grad norm \(options.maxGradNorm), dropout \(options.dropout), targets \(labels.pieces.positive)/\(labels.pieces.negative), seed \(options.seed)",
            transient: false)
        if resumedAt > 0 {
            sink.emit("resuming at step \(resumedAt)", transient: false)
        }
    }

    static func describe(_ error: any Error) -> String {
        if let checkpoint = error as? CheckpointError, case .io(_, let reason) = checkpoint {
            return reason
        }
        if let localized = error as? LocalizedError, let text = localized.errorDescription {
            return text
        }
        let nsError = error as NSError
        if let posix = nsError.userInfo[NSUnderlyingErrorKey] as? NSError,
            posix.domain == NSPOSIXErrorDomain
        {
            return String(cString: strerror(Int32(posix.code)))
        }
        return nsError.localizedDescription
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}

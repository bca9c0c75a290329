import ArgumentParser
import Foundation
import InparsCore
import InparsEval
import InparsHub
import InparsModels
import InparsRanker
import InparsTensor
import InparsTraining

/// `inpars train`: fine-tune a monoT5 reranker or a cross-encoder.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune a monoT5 reranker or a cross-encoder on triples or labelled pairs.",
        discussion: """
            T5 folders (monoT5): input 'Query: {q} Document: {d} Relevant:' (document truncated \
            to --max-length tokens, the suffix kept), target '▁true'/'▁false' + EOS \
            ('▁yes'/'▁no' for FLAN-T5 folders), token cross-entropy. Cross-encoder folders \
            (bert, electra, roberta, xlm-roberta): '[CLS] q [SEP] d [SEP]' (document truncated), \
            pointwise binary cross-entropy on the head, or with --teacher Margin-MSE on the \
            teacher's score margins (Docs/cross-encoders.md). --triples: query<TAB>positive<TAB>negative, each \
            line one positive and one negative example in the same batch (--batch-size must \
            be even). --pairs: query<TAB>passage<TAB>label (1/0/true/false). Writes \
            --output/checkpoint-<step> (Hugging Face folder + trainer_state.json, \
            optimizer.safetensors) every --save-every steps and at the end, --output/final at \
            the end, --output/best with --keep-best, and --output/train_log.jsonl. --resume \
            continues from the latest checkpoint and reaches the same weights as an \
            uninterrupted run (same options required). The number of examples the run will \
            see is printed before training starts.
            """)

    @OptionGroup var model: ModelOptions

    @Option(help: "Training triples TSV: query<TAB>positive<TAB>negative.")
    var triples: String?

    @Option(help: "Training pairs TSV: query<TAB>passage<TAB>label (1/0).")
    var pairs: String?

    @Option(help: "Output folder for checkpoints, the final model and train_log.jsonl.")
    var output: String

    @Option(help: "adamw or adafactor (fine-tuning mode: fixed lr, no relative step).")
    var optimizer: TrainerOptions.OptimizerKind = .adamw

    @Option(help: "Learning rate.")
    var lr: Double = 3e-4

    @Option(help: "Decoupled weight decay (layer norms exempt).")
    var weightDecay: Double = 0

    @Option(help: "Learning-rate schedule after warmup: constant or linear (to 0).")
    var schedule: TrainerOptions.ScheduleKind = .constant

    @Option(help: "Linear warmup steps.")
    var warmupSteps = 0

    @OptionGroup var batch: BatchSizeOptions

    @Option(help: "Micro-batches per optimizer step.")
    var gradAccum = 1

    @Option(help: "Global gradient-norm clipping (0: off).")
    var maxGradNorm: Float = 1

    @Option(help: "Optimizer steps (give --steps or --epochs).")
    var steps: Int?

    @Option(help: "Passes over the training data (fractions allowed).")
    var epochs: Double?

    @Option(help: "Dropout rate (default: the config's dropout_rate).")
    var dropout: Float?

    @OptionGroup var seed: SeedOptions

    @Option(help: "Save a checkpoint every N steps (default: only at the end).")
    var saveEvery: Int?

    @Option(help: "Keep only the newest N checkpoint-<step> folders (default: all).")
    var keepLast: Int?

    @Flag(help: "Continue from the latest checkpoint in --output.")
    var resume = false

    @OptionGroup var badLines: BadLineOptions

    @Option(help: "Progress line every N steps.")
    var logEvery = 10

    @OptionGroup var threads: ThreadOptions

    @Option(help: "Eval queries (BEIR queries.jsonl or id<TAB>text TSV, or beir/<name>[/<split>]).")
    var evalQueries: String?

    @Option(help: "Eval qrels (BEIR TSV or TREC, or beir/<name>[/<split>]).")
    var evalQrels: String?

    @Option(help: "Eval first-stage TREC run to rerank.")
    var evalRun: String?

    @Option(help: "Eval corpus (BEIR corpus.jsonl or id<TAB>text TSV, or beir/<name>).")
    var evalCorpus: String?

    @Option(help: "Documents per eval query to rerank (as rerank's --depth).")
    var evalDepth = 100

    /// The old spelling of `--eval-depth`.
    @Option(name: .customLong("eval-top-k"), help: .hidden)
    var oldEvalTopK: Int?

    /// `--eval-depth`, or `--eval-top-k` when given.
    var evalTopK: Int { oldEvalTopK ?? evalDepth }

    @Option(help: "Evaluate every N steps (default: only at the start and the end).")
    var evalEvery: Int?

    @Option(help: "Pairs per forward pass during evaluation.")
    var evalBatchSize = 16

    @Flag(help: "Keep the checkpoint with the best eval nDCG@10 in --output/best.")
    var keepBest = false

    @Option(
        help:
            "Teacher model folder or Hub id org/name[@revision] to distil (monoT5 or a cross-encoder): it scores every training pair once, into --output/teacher_scores.tsv (resumable)."
    )
    var teacher: String?

    @Option(
        help:
            "bce (the model's own objective on the labels) or margin-mse (the --teacher's score margins; cross-encoder students, triples) (default: margin-mse with --teacher, else bce)."
    )
    var loss: TrainerOptions.LossKind?

    var evalFiles: [String?] { [evalQueries, evalQrels, evalRun, evalCorpus] }

    func validate() throws {
        guard (triples == nil) != (pairs == nil) else {
            throw ValidationError("give exactly one of --triples and --pairs")
        }
        guard (steps == nil) != (epochs == nil) else {
            throw ValidationError("give exactly one of --steps and --epochs")
        }
        if let steps { try requireFlag("--steps", steps, in: 1...Limits.steps) }
        if let epochs, !(epochs > 0 && epochs <= 1e6) {
            throw ValidationError("--epochs must be positive and at most 1000000")
        }
        if triples != nil, batch.batchSize % 2 != 0 {
            throw ValidationError(
                "--batch-size must be even with --triples (each triple gives a positive and a negative)"
            )
        }
        try requireFlag("--grad-accum", gradAccum, in: 1...Limits.batch)
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        guard weightDecay >= 0 else { throw ValidationError("--weight-decay must be ≥ 0") }
        try requireFlag("--warmup-steps", warmupSteps, in: 0...Limits.steps)
        guard maxGradNorm >= 0 else { throw ValidationError("--max-grad-norm must be ≥ 0") }
        if let dropout, !(0..<1).contains(dropout) {
            throw ValidationError("--dropout must be in [0, 1)")
        }
        if let saveEvery, saveEvery < 1 { throw ValidationError("--save-every must be at least 1") }
        if let keepLast, keepLast < 1 { throw ValidationError("--keep-last must be at least 1") }
        if let evalEvery, evalEvery < 1 { throw ValidationError("--eval-every must be at least 1") }
        guard logEvery >= 1 else { throw ValidationError("--log-every must be at least 1") }
        guard evalTopK >= 1 else { throw ValidationError("--eval-depth must be at least 1") }
        try requireFlag("--eval-batch-size", evalBatchSize, in: 1...Limits.batch)
        let given = evalFiles.compactMap { $0 }.count
        guard given == 0 || given == 4 else {
            throw ValidationError(
                "evaluation needs all of --eval-queries, --eval-qrels, --eval-run and --eval-corpus"
            )
        }
        if given == 0, evalEvery != nil || keepBest {
            throw ValidationError("--eval-every and --keep-best need the --eval-* files")
        }
    }

    func run() throws {
        ProcessMemory.retainFreedMemory()
        BLAS.threads = threads.count
        let modelURL = try model.directory
        // The registry names the family; each family that can be trained has its trainer.
        let family = try ModelRegistry.resolve(directory: modelURL).family
        let notTrainable = ModelError.unsupportedTask(
            directory: modelURL.path, family: .causalLM, task: "be trained as a reranker",
            instead: "train a monoT5 or cross-encoder folder; decoder-only LMs generate queries (inpars generate --model)")
        if family == .causalLM { throw notTrainable }
        let data = try TrainingData.read(
            URL(fileURLWithPath: triples ?? pairs!), kind: triples != nil ? .triples : .pairs,
            skipBadLines: badLines.skipBadLines)
        if let first = data.firstSkippedError {
            FileHandle.standardError.write(
                Data(
                    "warning: skipped \(data.skippedLines) malformed lines; first: \(first.localizedDescription)\n"
                        .utf8))
        }
        var options = TrainerOptions()
        options.optimizer = optimizer
        options.learningRate = lr
        options.weightDecay = weightDecay
        options.schedule = schedule
        options.warmupSteps = warmupSteps
        options.batchSize = batch.batchSize
        options.gradientAccumulation = gradAccum
        options.maxGradNorm = maxGradNorm
        options.steps = steps
        options.epochs = epochs
        options.dropout = try dropout ?? TrainerOptions.configDropout(directory: modelURL)
        options.seed = seed.seed
        options.maxLength = model.scoring.maxLength
        options.labels = model.scoring.labels
        options.saveEvery = saveEvery
        options.evalEvery = evalEvery
        options.keepBest = keepBest
        options.keepLast = keepLast
        options.logEvery = logEvery
        options.evalBatchSize = evalBatchSize
        options.loss = loss
        options.teacher = try teacher.map { try ModelLocator.resolve($0) }

        var evaluation: TrainingEvaluation?
        if let evalQueries, let evalQrels, let evalRun, let evalCorpus {
            evaluation = TrainingEvaluation(
                input: try RerankingInput.read(
                    run: URL(fileURLWithPath: evalRun),
                    queries: DatasetLocator.resolve(evalQueries, role: .queries),
                    corpus: DatasetLocator.resolve(evalCorpus, role: .corpus)),
                qrels: try Qrels.read(DatasetLocator.resolve(evalQrels, role: .qrels)), topK: evalTopK)
        }
        let output = URL(fileURLWithPath: output)
        switch family {
        case .causalLM: throw notTrainable
        case .t5:
            try train(
                MonoT5Trainer(
                    modelDirectory: modelURL, output: output, data: data, options: options,
                    evaluation: evaluation))
        case .bert:
            try train(
                CrossEncoderTrainer(
                    modelDirectory: modelURL, output: output, data: data, options: options,
                    evaluation: evaluation))
        }
    }

    /// Runs `trainer`; the first Ctrl-C saves a checkpoint after the current step (exit 130).
    private func train<Recipe>(_ trainer: RerankerTrainer<Recipe>) throws {
        trainer.stopRequest = StopRequest()
        Interrupts.install(
            message: "interrupt: saving a checkpoint after the current step (press Ctrl-C"
                + " again to stop at once and keep the last saved checkpoint)",
            stop: trainer.stopRequest)
        do {
            _ = try trainer.run(resume: resume)
        } catch TrainingError.interrupted(let step, let checkpoint) {
            let error = TrainingError.interrupted(step: step, checkpoint: checkpoint)
            FileHandle.standardError.write(Data((error.localizedDescription + "\n").utf8))
            throw ExitCode(130)
        }
    }
}

extension TrainerOptions.OptimizerKind: ExpressibleByArgument {}
extension TrainerOptions.ScheduleKind: ExpressibleByArgument {}
extension TrainerOptions.LossKind: ExpressibleByArgument {}

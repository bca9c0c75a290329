import Foundation
import InparsCore
import InparsModels
import InparsRanker
import InparsTestSupport
import Testing

@testable import InparsTraining

/// Bad training data, bad model folders, divergence and failed saves.
@Suite struct TrainerBadInputTests {
    typealias Task = SyntheticRelevanceTask

    func options(steps: Int) -> TrainerOptions {
        var options = TrainerOptions()
        options.steps = steps
        options.batchSize = 4
        options.maxLength = 32
        options.learningRate = 1e-3
        options.dropout = 0
        options.logEvery = 1000
        return options
    }

    @Test func aMalformedTriplesLineNamesFileAndLine() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-bad-lines")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = try Task.write(
            "q\tpos\tneg\n\nq\tonly two\nq\t \tneg\nq\tpos\tneg\n", "triples.tsv", in: folder)
        #expect(
            throws: TrainingError.malformedLine(
                path: url.path, line: 3,
                reason: "expected 3 tab-separated fields (query, positive, negative), found 2")
        ) { try TrainingData.read(url, kind: .triples) }
        let data = try TrainingData.read(url, kind: .triples, skipBadLines: true)
        #expect(data.units.count == 2 && data.skippedLines == 2 && data.exampleCount == 4)
        #expect(
            data.firstSkippedError
                == .malformedLine(
                    path: url.path, line: 3,
                    reason: "expected 3 tab-separated fields (query, positive, negative), found 2"))
        #expect(
            TrainingError.malformedLine(path: "t.tsv", line: 3, reason: "x").localizedDescription
                == "t.tsv:3: x (pass --skip-bad-lines to skip such lines)")
    }

    @Test func pairsNeedALabelAndMaySkipAHeader() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-pairs")
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = try Task.write(
            "query\tpassage\tlabel\nq\tp\t1\nq\tn\tfalse\n", "pairs.tsv", in: folder)
        let data = try TrainingData.read(good, kind: .pairs)
        #expect(data.units.map { $0.map(\.relevant) } == [[true], [false]])
        let bad = try Task.write("q\tp\t1\nq\tp\tmaybe\n", "bad.tsv", in: folder)
        #expect(
            throws: TrainingError.malformedLine(
                path: bad.path, line: 2,
                reason: "field 'label' is 'maybe', expected 1, 0, true or false")
        ) { try TrainingData.read(bad, kind: .pairs) }
    }

    /// Issue 16, finding 2: a cut gzip training file is an error, not a shorter training set.
    @Test func aTruncatedGzipTrainingFileIsAnError() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-gzip")
        defer { try? FileManager.default.removeItem(at: folder) }
        let gzip = GzipBytes(blocks: Array(repeating: "q\tgood doc\tbad doc\n", count: 3))
        let url = folder.appendingPathComponent("triples.tsv.gz")
        try Data(gzip.damaged[0].bytes).write(to: url)
        #expect(throws: InparsCoreError.self) {
            _ = try TrainingData.read(url, kind: .triples, skipBadLines: true)
        }
        try Data(gzip.bytes).write(to: url)
        #expect(try TrainingData.read(url, kind: .triples).units.count == 3)
    }

    /// Issue 16 (InPars #17, and finding 3): zero examples or zero steps are errors before any
    /// work, and options a library caller gets wrong throw instead of trapping.
    @Test func zeroExamplesZeroStepsAndBadOptionsAreErrors() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-zero")
        defer { try? FileManager.default.removeItem(at: folder) }
        let example = [
            TrainingExample(query: "q", passage: "p", relevant: true),
            TrainingExample(query: "q", passage: "n", relevant: false),
        ]
        let data = TrainingData(kind: .triples, units: [example])
        func run(_ data: TrainingData, _ options: TrainerOptions) throws {
            let output = folder.appendingPathComponent(UUID().uuidString)
            _ = try MonoT5Trainer(
                modelDirectory: Task.model, output: output, data: data, options: options,
                sink: CollectingProgressSink()
            ).run()
        }
        #expect(throws: TrainingError.noExamples) {
            try run(TrainingData(kind: .triples, units: []), options(steps: 1))
        }
        #expect(throws: TrainingError.noTrainingSteps(reason: "--steps is 0")) {
            try run(data, options(steps: 0))
        }
        var epochs = options(steps: 1)
        epochs.steps = nil
        epochs.epochs = 0
        #expect(throws: TrainingError.noTrainingSteps(reason: "--epochs is 0.0")) {
            try run(data, epochs)
        }
        var odd = options(steps: 1)
        odd.batchSize = 3
        #expect(throws: TrainingError.self) { try run(data, odd) }
        var both = options(steps: 1)
        both.epochs = 1
        #expect(throws: TrainingError.self) { try run(data, both) }
        var short = options(steps: 1)
        short.maxLength = 4
        #expect(throws: RankerError.self) { try run(data, short) }
        #expect(throws: TrainingError.noExamples) { _ = try TrainingStream(unitCount: 0, seed: 1) }
        // Nothing was written for any of them.
        let written = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .flatMap { try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent($0).path) }
        #expect(written.allSatisfy { $0 == "train_log.jsonl" }, "\(written)")
    }

    /// Issue 16: training refuses labels its tokenizer does not encode as single pieces (the
    /// same check as scoring), before any step.
    @Test func labelsThatAreNotSingleTokensAreRefused() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-split-labels")
        let model = folder.appendingPathComponent("model")
        try FileManager.default.copyItem(at: Task.model, to: model)
        try Data(
            """
            {"added_tokens": [{"id": 0, "content": "<pad>", "special": true},
                              {"id": 1, "content": "</s>", "special": true},
                              {"id": 2, "content": "<unk>", "special": true}],
             "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
             "model": {"type": "Unigram", "unk_id": 2, "vocab": [
                ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["▁", -2.0], ["▁true", -100.0],
                ["▁tr", -1.0], ["ue", -1.0], ["▁false", -1.0], ["q", -5.0], ["p", -5.0]]}}
            """.utf8
        ).write(to: model.appendingPathComponent("tokenizer.json"))
        let data = TrainingData(
            kind: .triples,
            units: [[
                .init(query: "q", passage: "p", relevant: true),
                .init(query: "q", passage: "p", relevant: false),
            ]])
        let output = folder.appendingPathComponent("out")
        #expect(throws: RankerError.self) {
            try MonoT5Trainer(
                modelDirectory: model, output: output, data: data, options: options(steps: 1),
                sink: CollectingProgressSink()
            ).run()
        }
        #expect(MonoT5Trainer.checkpoints(in: output).isEmpty)
    }

    @Test func anEmptyTrainingFileIsAClearError() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-empty")
        defer { try? FileManager.default.removeItem(at: folder) }
        let empty = try Task.write("\n\n", "empty.tsv", in: folder)
        #expect(throws: TrainingError.emptyTrainingFile(path: empty.path, skippedLines: 0)) {
            try TrainingData.read(empty, kind: .triples)
        }
        let allBad = try Task.write("a\tb\n", "bad.tsv", in: folder)
        #expect(throws: TrainingError.emptyTrainingFile(path: allBad.path, skippedLines: 1)) {
            try TrainingData.read(allBad, kind: .triples, skipBadLines: true)
        }
    }

    @Test func aModelFolderThatIsNotT5IsRefused() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-not-t5")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = folder.appendingPathComponent("bert")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        try #"{"model_type": "bert", "hidden_size": 8}"#.write(
            to: model.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let data = TrainingData(
            kind: .triples,
            units: [
                [
                    .init(query: "q", passage: "p", relevant: true),
                    .init(query: "q", passage: "n", relevant: false),
                ]
            ])
        let trainer = MonoT5Trainer(
            modelDirectory: model, output: folder.appendingPathComponent("out"), data: data,
            options: options(steps: 1), sink: CollectingProgressSink())
        #expect(
            throws: ModelError.notT5(
                path: model.appendingPathComponent("config.json").path, modelType: "bert")
        ) { try trainer.run() }
    }

    @Test func aDivergingRunStopsWithTheStepAndKeepsTheLastGoodCheckpoint() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-nan")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triples = try Task.write(Task.triples(count: 8, seed: 5), "t.tsv", in: folder)
        var options = options(steps: 6)
        options.learningRate = 1e30  // the first update sends the weights to ±1e30
        options.maxGradNorm = 0
        options.saveEvery = 1
        let output = folder.appendingPathComponent("out")
        let trainer = MonoT5Trainer(
            modelDirectory: Task.model, output: output,
            data: try TrainingData.read(triples, kind: .triples), options: options,
            sink: CollectingProgressSink())
        do {
            _ = try trainer.run()
            Issue.record("a run at lr 1e30 finished")
        } catch TrainingError.nonFiniteLoss(let step, let value, let last) {
            #expect(!value.isFinite)
            let saved = MonoT5Trainer.checkpoints(in: output).map(\.step)
            #expect(saved == Array(1..<step), "checkpoints \(saved), failed at \(step)")
            #expect(last == output.appendingPathComponent("checkpoint-\(step - 1)").path)
            #expect(step >= 2)
            let message = TrainingError.nonFiniteLoss(
                step: step, value: value, lastCheckpoint: last
            ).localizedDescription
            #expect(message.contains("step \(step)") && message.contains("checkpoint-\(step - 1)"))
        }
        #expect(
            !FileManager.default.fileExists(atPath: output.appendingPathComponent("final").path))
    }

    @Test func aFailedSaveLeavesThePreviousCheckpointIntact() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-full-disk")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triples = try Task.write(Task.triples(count: 8, seed: 6), "t.tsv", in: folder)
        var options = options(steps: 6)
        options.saveEvery = 2
        let output = folder.appendingPathComponent("out")
        let trainer = MonoT5Trainer(
            modelDirectory: Task.model, output: output,
            data: try TrainingData.read(triples, kind: .triples), options: options,
            sink: CollectingProgressSink())
        trainer.hooks.beforeCommit = { temporary in
            if temporary.lastPathComponent.hasPrefix(".checkpoint-4.") {
                // What the safetensors writer reports when the disk fills up.
                throw CheckpointError.io(
                    file: temporary.appendingPathComponent("model.safetensors").path,
                    reason: "No space left on device")
            }
        }
        let previous = output.appendingPathComponent("checkpoint-2")
        #expect(
            throws: TrainingError.saveFailed(
                path: output.appendingPathComponent("checkpoint-4").path,
                reason: "No space left on device", previous: previous.path)
        ) { try trainer.run() }
        // Nothing half-written is left; the previous checkpoint loads and resumes.
        let names = try FileManager.default.contentsOfDirectory(atPath: output.path).sorted()
        #expect(names == ["checkpoint-2", "train_log.jsonl"])
        _ = try MonoT5Reranker.load(directory: previous)
        let state = try TrainerState.read(directory: previous)
        #expect(state.step == 2 && state.position == 4)
        let resumed = try MonoT5Trainer(
            modelDirectory: Task.model, output: output,
            data: try TrainingData.read(triples, kind: .triples), options: options,
            sink: CollectingProgressSink()
        ).run(resume: true)
        #expect(resumed.steps == 6 && resumed.resumedFrom == 2)
    }

    @Test func resumeNeedsACheckpointAndTheSameSettings() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-resume-errors")
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = try TrainingData.read(
            Task.write(Task.triples(count: 4, seed: 7), "t.tsv", in: folder), kind: .triples)
        let output = folder.appendingPathComponent("out")
        func trainer(_ options: TrainerOptions) -> MonoT5Trainer {
            MonoT5Trainer(
                modelDirectory: Task.model, output: output, data: data, options: options,
                sink: CollectingProgressSink())
        }
        #expect(throws: TrainingError.nothingToResume(directory: output.path)) {
            try trainer(options(steps: 2)).run(resume: true)
        }
        _ = try trainer(options(steps: 2)).run()
        #expect(throws: TrainingError.outputHasCheckpoints(directory: output.path)) {
            try trainer(options(steps: 2)).run()
        }
        var other = options(steps: 4)
        other.seed = 99
        #expect(throws: TrainingError.resumeMismatch(differences: ["--seed: 42 → 99"])) {
            try trainer(other).run(resume: true)
        }
        // Issue 16, finding 6: every option that changes the result is compared, and every
        // difference is named.
        var changed = options(steps: 4)
        changed.learningRate = 2e-3
        changed.maxLength = 64
        changed.schedule = .linear
        changed.warmupSteps = 1
        changed.weightDecay = 0.1
        changed.maxGradNorm = 0.5
        changed.dropout = 0.2
        changed.labels = .yesNo
        #expect(
            throws: TrainingError.resumeMismatch(differences: [
                "--dropout: 0.0 → 0.2", "--labels: true-false → yes-no", "--lr: 0.001 → 0.002",
                "--max-grad-norm: 1.0 → 0.5", "--max-length: 32 → 64",
                "--schedule: constant → linear", "--warmup-steps: 0 → 1",
                "--weight-decay: 0.0 → 0.1",
            ])
        ) { try trainer(changed).run(resume: true) }
        // Other training data of the same size.
        let otherData = try TrainingData.read(
            Task.write(Task.triples(count: 4, seed: 8), "t2.tsv", in: folder), kind: .triples)
        let error = #expect(throws: TrainingError.self) {
            try MonoT5Trainer(
                modelDirectory: Task.model, output: output, data: otherData,
                options: options(steps: 4), sink: CollectingProgressSink()
            ).run(resume: true)
        }
        #expect(error?.errorDescription?.contains("training data") == true, "\(String(describing: error))")
        // A longer run with the same settings continues the finished one.
        let longer = try trainer(options(steps: 4)).run(resume: true)
        #expect(longer.resumedFrom == 2 && longer.steps == 4)
    }
}

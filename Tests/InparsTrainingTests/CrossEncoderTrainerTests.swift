import Foundation
import InparsCore
import InparsEval
import InparsModels
import InparsRanker
import InparsTestSupport
import InparsTokenizers
import Testing

@testable import InparsTraining

/// The shared training loop on a cross-encoder fixture (`cross-encoders/bert-1`, WordPiece):
/// it learns the synthetic task, its checkpoints load back with the same scores, and a resumed
/// run ends with the bytes of an uninterrupted one.
@Suite struct CrossEncoderTrainerTests {
    typealias Task = SyntheticRelevanceTask
    static let model = TestPaths.fixtures.appendingPathComponent("cross-encoders/bert-1")

    func options(steps: Int) -> TrainerOptions {
        var options = TrainerOptions()
        options.steps = steps
        options.batchSize = 16
        options.maxLength = 32
        options.learningRate = 1e-3
        options.schedule = .linear
        options.warmupSteps = 4
        options.weightDecay = 0.01
        options.dropout = 0
        options.seed = 7
        options.logEvery = 1000
        return options
    }

    @Test func trainingOnALearnableTaskRaisesEvalNDCGAboveItsStart() throws {
        let folder = try TestPaths.temporaryDirectory("cross-trainer-learn")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triples = try Task.write(Task.triples(count: 256, seed: 1), "triples.tsv", in: folder)
        let data = try TrainingData.read(triples, kind: .triples)
        var options = options(steps: 60)
        options.evalEvery = 20
        let sink = CollectingProgressSink()
        let evaluation = Task.evaluation(seed: 2)
        let trainer = CrossEncoderTrainer(
            modelDirectory: Self.model, output: folder.appendingPathComponent("run"), data: data,
            options: options, evaluation: evaluation, sink: sink)
        let summary = try trainer.run()

        let ndcg = summary.evaluations.map(\.ndcg10)
        #expect(summary.evaluations.map(\.step) == [0, 20, 40, 60])
        #expect(ndcg.last! > ndcg.first! + 0.15, "nDCG@10 per eval: \(ndcg)")
        #expect(
            sink.lines.contains { $0.contains("loss pointwise binary cross-entropy on the logit") },
            "\(sink.lines)")

        // The final folder is a cross-encoder folder with the tokenizer; it scores as the last
        // evaluation did.
        for name in ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt"] {
            #expect(
                FileManager.default.fileExists(
                    atPath: summary.finalDirectory.appendingPathComponent(name).path), "\(name)")
        }
        let reloaded = try RelevanceScorers.load(
            directory: summary.finalDirectory, options: .init(maxLength: 32, batchSize: 16))
        #expect(reloaded is CrossEncoderReranker)
        let metrics = try evaluation.evaluate(scorer: reloaded)
        #expect(abs(metrics.ndcg10 - ndcg.last!) <= 1e-12)
    }

    /// A checkpoint's weights are the in-memory weights: the reloaded model's logits equal the
    /// session's bit for bit.
    @Test func aCheckpointLoadsBackWithEqualScores() throws {
        let folder = try TestPaths.temporaryDirectory("cross-trainer-reload")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triples = try Task.write(Task.triples(count: 16, seed: 3), "triples.tsv", in: folder)
        let trainer = CrossEncoderTrainer(
            modelDirectory: Self.model, output: folder.appendingPathComponent("run"),
            data: try TrainingData.read(triples, kind: .triples), options: options(steps: 2),
            sink: CollectingProgressSink())
        var session = try trainer.prepare(resume: false)
        try trainer.step(&session)
        try trainer.step(&session)
        try trainer.saveCheckpoint(&session)
        let reloaded = try BertModel.load(
            directory: folder.appendingPathComponent("run/checkpoint-2"))
        let inputs = ["cancer study data", "model results"].map {
            session.recipe.inputs.encode(query: "cancer", document: $0).input
        }
        #expect(reloaded.logits(inputs).storage == session.model.logits(inputs).storage)
        #expect(reloaded.parameters != (try BertModel.load(directory: Self.model)).parameters)
    }

    @Test func aResumedRunEndsWithTheWeightsOfAnUninterruptedOne() throws {
        let folder = try TestPaths.temporaryDirectory("cross-trainer-resume")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triples = try Task.write(Task.triples(count: 24, seed: 5), "triples.tsv", in: folder)
        let data = try TrainingData.read(triples, kind: .triples)
        var options = options(steps: 4)
        options.dropout = 0.1
        options.saveEvery = 2
        let straight = try CrossEncoderTrainer(
            modelDirectory: Self.model, output: folder.appendingPathComponent("straight"),
            data: data, options: options, sink: CollectingProgressSink()
        ).run()
        let interrupted = CrossEncoderTrainer(
            modelDirectory: Self.model, output: folder.appendingPathComponent("resumed"),
            data: data, options: options, sink: CollectingProgressSink())
        var session = try interrupted.prepare(resume: false)
        try interrupted.step(&session)
        try interrupted.step(&session)
        try interrupted.saveCheckpoint(&session)
        let resumed = try CrossEncoderTrainer(
            modelDirectory: Self.model, output: folder.appendingPathComponent("resumed"),
            data: data, options: options, sink: CollectingProgressSink()
        ).run(resume: true)
        #expect(resumed.resumedFrom == 2)
        let a = try BertModel.load(directory: straight.finalDirectory).parameters
        let b = try BertModel.load(directory: resumed.finalDirectory).parameters
        #expect(a == b)
    }

    @Test func monoT5LabelsAreRefusedForACrossEncoder() throws {
        let folder = try TestPaths.temporaryDirectory("cross-trainer-labels")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triples = try Task.write(Task.triples(count: 4, seed: 3), "triples.tsv", in: folder)
        var options = options(steps: 1)
        options.labels = .yesNo
        let trainer = CrossEncoderTrainer(
            modelDirectory: Self.model, output: folder.appendingPathComponent("run"),
            data: try TrainingData.read(triples, kind: .triples), options: options,
            sink: CollectingProgressSink())
        #expect(throws: TrainingError.self) { try trainer.run() }
    }
}

import Foundation
import InparsCore
import InparsEval
import InparsModels
import InparsRanker
import InparsTensor
import InparsTestSupport
import InparsTokenizers
import Testing

@testable import InparsTraining

/// The training loop on the tiny fixture model: it learns, it resumes exactly, its folders load.
@Suite struct MonoT5TrainerTests {
    typealias Task = SyntheticRelevanceTask

    func options(steps: Int) -> TrainerOptions {
        var options = TrainerOptions()
        options.steps = steps
        options.batchSize = 8
        options.maxLength = 32
        options.learningRate = 1e-3
        options.dropout = 0.1
        options.seed = 7
        options.logEvery = 1000
        return options
    }

    @Test func trainingOnALearnableTaskRaisesEvalNDCGAboveItsStart() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-learn")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triples = try Task.write(Task.triples(count: 256, seed: 1), "triples.tsv", in: folder)
        let data = try TrainingData.read(triples, kind: .triples)
        var options = options(steps: 60)
        options.batchSize = 16
        options.learningRate = 3e-3
        options.dropout = 0  // dropout 0.1 slows this 64-wide model down several-fold
        options.evalEvery = 20
        options.keepBest = true
        let sink = CollectingProgressSink()
        let evaluation = Task.evaluation(seed: 2)
        let trainer = MonoT5Trainer(
            modelDirectory: Task.model, output: folder.appendingPathComponent("run"), data: data,
            options: options, evaluation: evaluation, sink: sink)
        let summary = try trainer.run()

        let ndcg = summary.evaluations.map(\.ndcg10)
        #expect(summary.evaluations.map(\.step) == [0, 20, 40, 60])
        // Relevant documents start at first-stage ranks 5 and 8; training must lift them.
        #expect(ndcg.last! > ndcg.first! + 0.15, "nDCG@10 per eval: \(ndcg)")
        #expect(ndcg.dropFirst().allSatisfy { $0 > ndcg.first! }, "nDCG@10 per eval: \(ndcg)")
        let startLoss = try firstLoss(folder.appendingPathComponent("run"))
        #expect(summary.lastLoss! < 0.75 * startLoss, "loss \(startLoss) → \(summary.lastLoss!)")
        #expect(
            sink.lines.contains {
                $0.hasPrefix(
                    "this run sees 960 examples: 60 steps × batch 16 × accumulation 1 = 1.88 epochs of the 512 training examples"
                )
            }, "\(sink.lines)")

        // The final folder loads in the reranker and scores exactly as the last evaluation.
        let reloaded = try MonoT5Reranker.load(
            directory: summary.finalDirectory, options: .init(maxLength: 32, batchSize: 16))
        #expect(reloaded.labels == .trueFalse)
        let reranked = try RunReranker(topK: 8).rerank(
            run: evaluation.run, documents: evaluation.documents, queries: evaluation.queries
        ) { query, texts in reloaded.score(query: query, documents: texts) }.run
        let metrics = try Evaluator.evaluate(
            run: reranked, qrels: evaluation.qrels, metrics: [.ndcg(cutoff: 10)])
        #expect(abs(metrics.mean[.ndcg(cutoff: 10)]! - ndcg.last!) <= 1e-12)

        // `best` holds the best evaluation's weights; the log has every step and evaluation.
        let bestState = try TrainerState.read(
            directory: folder.appendingPathComponent("run/best"))
        #expect(bestState.bestMetric == ndcg.max())
        let log = try String(
            contentsOf: folder.appendingPathComponent("run/train_log.jsonl"), encoding: .utf8
        ).split(separator: "\n")
        #expect(log.count == 60 + 4)
        #expect(log.filter { $0.contains("\"eval_ndcg@10\"") }.count == 4)
    }

    func firstLoss(_ run: URL) throws -> Float {
        let lines = try String(
            contentsOf: run.appendingPathComponent("train_log.jsonl"), encoding: .utf8
        ).split(separator: "\n")
        let first = try #require(lines.first { $0.contains("\"loss\"") })
        let object = try JSONSerialization.jsonObject(with: Data(first.utf8)) as! [String: Any]
        return (object["loss"] as! NSNumber).floatValue
    }

    struct Interrupted: Error {}

    @Test(arguments: [TrainerOptions.OptimizerKind.adamw, .adafactor])
    func resumingFromAnInterruptedRunReachesTheSameWeights(
        _ optimizer: TrainerOptions.OptimizerKind
    ) throws {
        let folder = try TestPaths.temporaryDirectory("trainer-resume")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triples = try Task.write(Task.triples(count: 20, seed: 3), "triples.tsv", in: folder)
        let data = try TrainingData.read(triples, kind: .triples)
        // 8 steps of 2 micro-batches of 2 triples: 32 triples, so the data wraps into a second
        // epoch (new shuffle) after step 5; dropout on, linear schedule with warmup.
        var options = options(steps: 8)
        options.optimizer = optimizer
        options.batchSize = 4
        options.gradientAccumulation = 2
        options.schedule = .linear
        options.warmupSteps = 2
        options.weightDecay = 0.01
        options.saveEvery = 2

        let straight = folder.appendingPathComponent("straight")
        _ = try MonoT5Trainer(
            modelDirectory: Task.model, output: straight, data: data, options: options,
            sink: CollectingProgressSink()
        ).run()

        // The same run dies while saving checkpoint-6, then resumes from checkpoint-4.
        let resumed = folder.appendingPathComponent("resumed")
        let first = MonoT5Trainer(
            modelDirectory: Task.model, output: resumed, data: data, options: options,
            sink: CollectingProgressSink())
        first.hooks.beforeCommit = { temporary in
            if temporary.lastPathComponent.hasPrefix(".checkpoint-6.") { throw Interrupted() }
        }
        #expect(throws: TrainingError.self) { try first.run() }
        #expect(
            MonoT5Trainer.checkpoints(in: resumed).map(\.step) == [2, 4],
            "only complete checkpoints remain")
        let sink = CollectingProgressSink()
        let summary = try MonoT5Trainer(
            modelDirectory: Task.model, output: resumed, data: data, options: options, sink: sink
        ).run(resume: true)
        #expect(summary.resumedFrom == 4 && summary.steps == 8)
        #expect(sink.lines.contains("resuming at step 4"))

        // Bit-identical weights, optimizer state and log.
        let a = try SafetensorsFile(url: straight.appendingPathComponent("final/model.safetensors"))
            .allTensors()
        let b = try SafetensorsFile(url: resumed.appendingPathComponent("final/model.safetensors"))
            .allTensors()
        #expect(a.count == b.count && !a.isEmpty)
        for (name, tensor) in a {
            #expect(b[name] == tensor, "\(name) differs after resume")
        }
        let initial = try Checkpoint.loadTensors(directory: Task.model)
        #expect(a["shared.weight"] != initial["shared.weight"], "training changed nothing")
        let optimizerA = try OptimizerState.read(
            from: straight.appendingPathComponent("checkpoint-8/optimizer.safetensors"))
        let optimizerB = try OptimizerState.read(
            from: resumed.appendingPathComponent("checkpoint-8/optimizer.safetensors"))
        #expect(optimizerA == optimizerB && optimizerA.step == 8)
        let logA = try String(
            contentsOf: straight.appendingPathComponent("train_log.jsonl"), encoding: .utf8)
        let logB = try String(
            contentsOf: resumed.appendingPathComponent("train_log.jsonl"), encoding: .utf8)
        #expect(logA == logB && logA.split(separator: "\n").count == 8)
        let state = try TrainerState.read(directory: resumed.appendingPathComponent("checkpoint-8"))
        #expect(state.step == 8 && state.position == 32 && state.epoch == 1)
    }

    @Test func everyTriplesBatchIsHalfPositiveAndEpochsVisitEveryUnitOnce() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-batches")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triples = try Task.write(Task.triples(count: 10, seed: 4), "triples.tsv", in: folder)
        let data = try TrainingData.read(triples, kind: .triples)
        let trainer = MonoT5Trainer(
            modelDirectory: Task.model, output: folder, data: data, options: options(steps: 1))
        let tokenizer = try SentencePieceTokenizer.load(directory: Task.model)
        let builder = try MonoT5InputBuilder(tokenizer: tokenizer, maxLength: 32)
        let targets = try MonoT5Recipe.labelTargets(
            .trueFalse, tokenizer: tokenizer, vocabularySize: 1 << 20, directory: "")
        let recipe = MonoT5Recipe(
            tokenizer: tokenizer, labels: .trueFalse, targets: targets, inputs: builder)
        var stream = try TrainingStream(unitCount: 10, seed: 9)
        var seen = [Int]()
        for _ in 0..<5 {
            let units = stream.next(4)
            seen += units
            let examples = trainer.examples(units)
            #expect(examples.map(\.index) == units.flatMap { [2 * $0, 2 * $0 + 1] })
            let batch = recipe.makeBatch(examples.map(\.example)).batch
            #expect(batch.labels.filter { $0 == targets.positive }.count == 4)
            #expect(batch.labels.filter { $0 == targets.negative }.count == 4)
            #expect(batch.inputs.allSatisfy { $0.count <= 32 && $0.last == tokenizer.eosID })
        }
        #expect(Set(seen.prefix(10)) == Set(0..<10) && Set(seen.suffix(10)) == Set(0..<10))
        #expect(Array(seen.prefix(10)) != Array(seen.suffix(10)), "each epoch reshuffles")
        // A stream rebuilt at a saved position continues identically.
        var original = try TrainingStream(unitCount: 10, seed: 9)
        _ = original.next(13)
        var rebuilt = try TrainingStream(unitCount: 10, seed: 9, position: 13)
        #expect(original.next(9) == rebuilt.next(9))
    }

    @Test func theLabelsAreTheRerankersAndTheTargetsEndWithEOS() throws {
        let tokenizer = try SentencePieceTokenizer.load(directory: Task.model)
        let trueFalse = try MonoT5Recipe.labelTargets(
            .trueFalse, tokenizer: tokenizer, vocabularySize: 1 << 20, directory: "")
        let yesNo = try MonoT5Recipe.labelTargets(
            .yesNo, tokenizer: tokenizer, vocabularySize: 1 << 20, directory: "")
        #expect(trueFalse.positive == [tokenizer.id(forToken: "▁true")!, tokenizer.eosID])
        #expect(trueFalse.negative == [tokenizer.id(forToken: "▁false")!, tokenizer.eosID])
        #expect(yesNo.positive == [tokenizer.id(forToken: "▁yes")!, tokenizer.eosID])
        #expect(MonoT5Reranker.Labels.detect(hint: "flan-t5-base", nameOrPath: nil) == .yesNo)
        #expect(
            MonoT5Reranker.Labels.detect(hint: "x", nameOrPath: "google/flan-t5-small") == .yesNo)
        #expect(MonoT5Reranker.Labels.detect(hint: "monot5-base", nameOrPath: nil) == .trueFalse)
    }

    @Test func checkpointConfigKeepsTheSourceBytesAndRecordsTheModelName() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-config")
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = TrainingData(
            kind: .pairs, units: [[TrainingExample(query: "q", passage: "p", relevant: true)]])
        let trainer = MonoT5Trainer(
            modelDirectory: Task.model, output: folder, data: data, options: options(steps: 1))
        let source = try String(
            contentsOf: Task.model.appendingPathComponent("config.json"), encoding: .utf8)
        let saved = String(decoding: try trainer.checkpointConfig(from: Task.model), as: UTF8.self)
        // transformers 5 refuses `"initializer_factor": 1` where the source says 1.0.
        #expect(source.contains("\"initializer_factor\": 1.0"))
        let inserted = "\n  \"_name_or_path\": \"\(Task.model.standardizedFileURL.path)\","
        #expect(saved == "{" + inserted + source.dropFirst(), "\(saved)")
        // A config that already names its model is copied unchanged.
        let named = folder.appendingPathComponent("named")
        try FileManager.default.createDirectory(at: named, withIntermediateDirectories: true)
        let text = "{\"_name_or_path\": \"google/flan-t5-small\", \"dropout_rate\": 0.1}"
        try text.write(
            to: named.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        #expect(try trainer.checkpointConfig(from: named) == Data(text.utf8))
        #expect(try TrainerOptions.configDropout(directory: named) == 0.1)
        #expect(try TrainerOptions.configDropout(directory: Task.model) == 0)
    }

    @Test func aFlanFolderTrainsWithYesNoAndItsCheckpointsStayFlan() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-flan")
        defer { try? FileManager.default.removeItem(at: folder) }
        let flan = folder.appendingPathComponent("flan-t5-tiny")
        try FileManager.default.copyItem(at: Task.model, to: flan)
        let pairs =
            "cancer\tcancer study cancer\t1\ncancer\tmodel data set\t0\ngrowth\tset growth\t1\n"
        let data = try TrainingData.read(
            Task.write(pairs, "pairs.tsv", in: folder), kind: .pairs)
        var options = options(steps: 2)
        options.batchSize = 3  // pairs need no even batch
        let sink = CollectingProgressSink()
        let output = folder.appendingPathComponent("out")
        let summary = try MonoT5Trainer(
            modelDirectory: flan, output: output, data: data, options: options, sink: sink
        ).run()
        #expect(sink.lines.contains { $0.contains("targets ▁yes/▁no") }, "\(sink.lines)")
        #expect(sink.lines.contains { $0.hasPrefix("training data: 3 pairs") })
        let state = try TrainerState.read(directory: output.appendingPathComponent("checkpoint-2"))
        #expect(state.unitsPerStep == 3 && state.examplesSeen == 6 && state.dataKind == "pairs")
        // `checkpoint-2` has no "flan" in its name; the recorded _name_or_path keeps yes/no.
        let reloaded = try MonoT5Reranker.load(
            directory: output.appendingPathComponent("checkpoint-2"))
        #expect(reloaded.labels == .yesNo)
        #expect(try MonoT5Reranker.load(directory: summary.finalDirectory).labels == .yesNo)
    }

    @Test func keepLastRemovesOlderCheckpointsButNotBestOrFinal() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-keep-last")
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = try TrainingData.read(
            Task.write(Task.triples(count: 6, seed: 8), "t.tsv", in: folder), kind: .triples)
        var options = options(steps: 4)
        options.batchSize = 2
        options.saveEvery = 1
        options.keepLast = 2
        options.keepBest = true
        let output = folder.appendingPathComponent("out")
        _ = try MonoT5Trainer(
            modelDirectory: Task.model, output: output, data: data, options: options,
            evaluation: Task.evaluation(seed: 9), sink: CollectingProgressSink()
        ).run()
        let names = try FileManager.default.contentsOfDirectory(atPath: output.path).sorted()
        #expect(names == ["best", "checkpoint-3", "checkpoint-4", "final", "train_log.jsonl"])
    }

    /// Issue 16, finding 4: resuming with --keep-last once deleted the checkpoint the run had
    /// resumed from, then failed to copy the tokenizer files out of it at the next save (and
    /// `final` was left stale).
    @Test func resumingWithKeepLastOutlivesTheCheckpointItStartedFrom() throws {
        let folder = try TestPaths.temporaryDirectory("trainer-keep-last-resume")
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = try TrainingData.read(
            Task.write(Task.triples(count: 6, seed: 8), "t.tsv", in: folder), kind: .triples)
        var options = options(steps: 2)
        options.batchSize = 2
        options.saveEvery = 1
        options.keepLast = 1
        let output = folder.appendingPathComponent("out")
        _ = try MonoT5Trainer(
            modelDirectory: Task.model, output: output, data: data, options: options,
            sink: CollectingProgressSink()
        ).run()
        let firstFinal = try Data(
            contentsOf: output.appendingPathComponent("final/model.safetensors"))
        options.steps = 5
        let summary = try MonoT5Trainer(
            modelDirectory: Task.model, output: output, data: data, options: options,
            sink: CollectingProgressSink()
        ).run(resume: true)
        #expect(summary.steps == 5)
        let names = try FileManager.default.contentsOfDirectory(atPath: output.path).sorted()
        #expect(names == ["checkpoint-5", "final", "train_log.jsonl"])
        let final = output.appendingPathComponent("final")
        #expect(
            try Data(contentsOf: final.appendingPathComponent("model.safetensors")) != firstFinal,
            "final holds step 5's weights")
        #expect(
            try Data(contentsOf: final.appendingPathComponent("model.safetensors"))
                == Data(contentsOf: output.appendingPathComponent("checkpoint-5/model.safetensors")))
        for file in ["spiece.model", "tokenizer.json", "tokenizer_config.json"] {
            #expect(
                FileManager.default.contents(atPath: final.appendingPathComponent(file).path)
                    == FileManager.default.contents(
                        atPath: Task.model.appendingPathComponent(file).path), "\(file)")
        }
    }
}

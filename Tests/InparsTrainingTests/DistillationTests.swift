import Foundation
import InparsCore
import InparsModels
import InparsRanker
import InparsTensor
import InparsTestSupport
import Testing

@testable import InparsTraining

/// Distillation (`--teacher DIR`, `--loss margin-mse`): the loss and its gradient, the teacher
/// scores file and its resume, and a student whose margins move toward its teacher's.
@Suite struct DistillationTests {
    typealias Task = SyntheticRelevanceTask
    static let student = TestPaths.fixtures.appendingPathComponent("cross-encoders/bert-1")
    static let teacher = TestPaths.fixtures.appendingPathComponent("cross-encoders/electra-1")

    @Test(arguments: [1, 2])
    func marginMSEAndItsGradientMatchTheDefinition(_ labels: Int) {
        var random = TestRandom(seed: 9)
        let logits = random.tensor([6, labels], in: -2...2)
        let margins: [Float] = [0.5, -1, 2]
        let loss = CrossEncoderLoss.marginMSE(numLabels: labels, teacherMargins: margins)
        let (value, gradient) = loss(logits)
        func reference(_ z: [Double]) -> Double {
            func score(_ row: Int) -> Double {
                labels == 1
                    ? z[row] : z[2 * row + 1] - log(exp(z[2 * row]) + exp(z[2 * row + 1]))
            }
            return (0..<3).map { i in
                let d = score(2 * i) - score(2 * i + 1) - Double(margins[i])
                return d * d
            }.reduce(0, +) / 3
        }
        #expect(abs(Double(value) - reference(logits.storage.map(Double.init))) < 1e-5)
        let verdict = GradientCheck.check(gradient.storage, at: logits.storage) { reference($0) }
        #expect(verdict.passes, "\(verdict)")
    }

    func options(steps: Int) -> TrainerOptions {
        var options = TrainerOptions()
        options.steps = steps
        options.batchSize = 16
        options.maxLength = 32
        options.learningRate = 1e-3
        options.dropout = 0
        options.seed = 3
        options.logEvery = 1000
        options.teacher = Self.teacher
        return options
    }

    /// Mean squared difference between the student's and the teacher's margins on `data`.
    static func marginError(
        _ student: CrossEncoderReranker, teacher: [[Float]], data: TrainingData
    ) -> Double {
        let pairs = data.units.flatMap { $0.map { ScoringPair(query: $0.query, document: $0.passage) } }
        let scores = student.score(pairs, progress: nil).scores
        return data.units.indices.map { unit in
            let d = Double(scores[2 * unit] - scores[2 * unit + 1])
                - Double(teacher[unit][0] - teacher[unit][1])
            return d * d
        }.reduce(0, +) / Double(data.units.count)
    }

    @Test func theStudentsMarginsMoveTowardTheTeachers() throws {
        let folder = try TestPaths.temporaryDirectory("distil-learn")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triples = try Task.write(Task.triples(count: 48, seed: 11), "triples.tsv", in: folder)
        let data = try TrainingData.read(triples, kind: .triples)
        let sink = CollectingProgressSink()
        let output = folder.appendingPathComponent("run")
        let summary = try CrossEncoderTrainer(
            modelDirectory: Self.student, output: output, data: data, options: options(steps: 40),
            sink: sink
        ).run()
        #expect(sink.lines.contains { $0.contains("loss Margin-MSE on the teacher's score margins") })

        // The scores file holds the teacher's own scores, one line per triple.
        let teacher = try CrossEncoderReranker.load(
            directory: Self.teacher, options: .init(maxLength: 32))
        let expected = data.units.map { unit in
            teacher.score(
                unit.map { ScoringPair(query: $0.query, document: $0.passage) }, progress: nil
            ).scores
        }
        let saved = try TeacherScores.existing(
            at: output.appendingPathComponent("teacher_scores.tsv"),
            header: String(
                try String(contentsOf: output.appendingPathComponent("teacher_scores.tsv"), encoding: .utf8)
                    .prefix { $0 != "\n" }) + "\n",
            data: data)
        #expect(saved.count == data.units.count)
        // `expected` scores each unit alone, the file 64 units at a time: a GEMM's rounding
        // depends on its row count (OpenBLAS's AVX2/AVX-512 kernels: up to 1.4e-6 here).
        for (a, b) in zip(saved.joined(), expected.joined()) {
            #expect(abs(a - b) <= 1e-5 * max(1, abs(b)), "\(a) vs \(b)")
        }

        let before = Self.marginError(
            try CrossEncoderReranker.load(directory: Self.student, options: .init(maxLength: 32)),
            teacher: saved, data: data)
        let after = Self.marginError(
            try CrossEncoderReranker.load(
                directory: summary.finalDirectory, options: .init(maxLength: 32)),
            teacher: saved, data: data)
        #expect(after < 0.5 * before, "margin MSE \(before) → \(after)")
    }

    /// A killed scoring pass resumes after its last complete line: the partial line is cut and
    /// the scores equal an uninterrupted pass's.
    @Test func theTeacherScoresFileResumesAfterAKill() throws {
        let folder = try TestPaths.temporaryDirectory("distil-resume")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triples = try Task.write(Task.triples(count: 10, seed: 12), "triples.tsv", in: folder)
        let data = try TrainingData.read(triples, kind: .triples)
        let teacher = try CrossEncoderReranker.load(
            directory: Self.teacher, options: .init(maxLength: 32))
        func load(_ output: URL) throws -> [[Float]] {
            try TeacherScores.load(
                data: data, teacher: teacher, teacherName: "electra-1", maxLength: 32,
                output: output, blockUnits: 3, sink: CollectingProgressSink())
        }
        let whole = folder.appendingPathComponent("whole")
        let killed = folder.appendingPathComponent("killed")
        for url in [whole, killed] {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        let reference = try load(whole)
        let text = try String(
            contentsOf: whole.appendingPathComponent("teacher_scores.tsv"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 1 + 10 + 1)
        // Header, four complete lines and half of the fifth, as a kill would leave them.
        let partial = lines.prefix(5).joined(separator: "\n") + "\n" + lines[5].prefix(4)
        try partial.write(
            to: killed.appendingPathComponent("teacher_scores.tsv"), atomically: true,
            encoding: .utf8)
        // The resumed pass scores block 3…5 again (blocks start at multiples of 3), so each
        // unit is scored in the same batch as before and the scores are bit-identical: a
        // GEMM's rounding depends on its row count, so other batches would differ in the last
        // digits (they did under OPENBLAS_CORETYPE=Haswell or SkylakeX before blocks were
        // aligned).
        let resumed = try load(killed)
        #expect(resumed == reference)
        let resumedText = try String(
            contentsOf: killed.appendingPathComponent("teacher_scores.tsv"), encoding: .utf8)
        let resumedLines = resumedText.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(resumedLines.count == lines.count && resumedLines.first == lines.first)
        #expect(zip(resumedLines, lines).prefix(5).allSatisfy { $0 == $1 })
        #expect(resumedText == text)

        // Another teacher's file is refused, not overwritten.
        #expect(throws: TrainingError.self) {
            try TeacherScores.load(
                data: data, teacher: teacher, teacherName: "another", maxLength: 32,
                output: whole, sink: CollectingProgressSink())
        }
        #expect(
            try String(contentsOf: whole.appendingPathComponent("teacher_scores.tsv"), encoding: .utf8)
                == text)
    }

    @Test func inconsistentDistillationOptionsAreRefusedBeforeTraining() throws {
        let folder = try TestPaths.temporaryDirectory("distil-options")
        defer { try? FileManager.default.removeItem(at: folder) }
        let triples = try TrainingData.read(
            try Task.write(Task.triples(count: 4, seed: 1), "t.tsv", in: folder), kind: .triples)
        let pairs = TrainingData(
            kind: .pairs, units: [[TrainingExample(query: "q", passage: "p", relevant: true)]])
        var noTeacher = options(steps: 1)
        noTeacher.teacher = nil
        noTeacher.loss = .marginMSE
        var unusedTeacher = options(steps: 1)
        unusedTeacher.loss = .bce
        var onPairs = options(steps: 1)
        onPairs.batchSize = 1
        for (data, options, needle) in [
            (triples, noTeacher, "needs --teacher"), (triples, unusedTeacher, "ignores the --teacher"),
            (pairs, onPairs, "--triples"),
        ] {
            let trainer = CrossEncoderTrainer(
                modelDirectory: Self.student, output: folder.appendingPathComponent("run"),
                data: data, options: options, sink: CollectingProgressSink())
            do {
                _ = try trainer.run()
                Issue.record("accepted: \(needle)")
            } catch let error as TrainingError {
                #expect(error.localizedDescription.contains(needle), "\(error.localizedDescription)")
            }
        }
        // A monoT5 student is refused with a teacher.
        let t5 = MonoT5Trainer(
            modelDirectory: Task.model, output: folder.appendingPathComponent("t5"), data: triples,
            options: options(steps: 1), sink: CollectingProgressSink())
        #expect(throws: TrainingError.self) { try t5.run() }
    }
}

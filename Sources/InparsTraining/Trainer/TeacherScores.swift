import Foundation
import InparsCore
import InparsRanker

/// A teacher's scores of every training example, computed once before distillation and kept in
/// `<output>/teacher_scores.tsv`, which a killed run resumes.
///
/// File: a header line `# inpars teacher scores<TAB>teacher=<folder><TAB>data=<fingerprint>
/// <TAB>max_length=<n>`, then one line per unit in order: `<unit><TAB><score>[<TAB><score>]`
/// (a triple: positive, then negative). Lines are appended a block at a time and flushed to
/// disk; on a rerun a file with the same header continues after its last complete line (a
/// partial line is cut), and a file with another header is refused, never overwritten.
public enum TeacherScores {
    static let fileName = "teacher_scores.tsv"
    static let magic = "# inpars teacher scores"

    /// The scores, `[unit][example]`, computing those the file lacks.
    ///
    /// - Parameters:
    ///   - teacher: the teacher's scorer; `teacherName` identifies it in the header.
    ///   - maxLength: recorded in the header (the scores depend on it).
    ///   - blockUnits: units scored and appended together.
    /// - Throws: ``TrainingError/invalidOption(name:value:reason:)`` for a file of another
    ///   teacher, data or length, or one that is not a teacher-scores file;
    ///   `InparsCoreError` for I/O; the scorer's errors.
    public static func load(
        data: TrainingData, teacher: any RelevanceScorer, teacherName: String, maxLength: Int,
        output: URL, blockUnits: Int = 64, sink: ProgressSink
    ) throws -> [[Float]] {
        let url = output.appendingPathComponent(fileName)
        let header =
            "\(magic)\tteacher=\(teacherName)\tdata=\(data.fingerprint)\tmax_length=\(maxLength)\n"
        var scores = try existing(at: url, header: header, data: data)
        if scores.count == data.units.count { return scores }
        if scores.isEmpty {
            guard FileManager.default.createFile(atPath: url.path, contents: Data(header.utf8))
            else { throw InparsCoreError.writeFailed(path: url.path, reason: "cannot create it") }
        }
        let handle: FileHandle
        do {
            handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
        } catch {
            throw InparsCoreError.writeFailed(path: url.path, reason: plainDescription(of: error))
        }
        defer { try? handle.close() }
        let progress = ProgressReporter(
            label: "teacher pairs scored", total: data.exampleCount, sink: sink,
            initial: (scores.count - scores.count % blockUnits) * data.examplesPerUnit)
        while scores.count < data.units.count {
            // Blocks start at multiples of `blockUnits`, and a resumed pass scores the whole
            // block its first missing unit falls in, so every unit is scored in the same batch
            // as in an uninterrupted pass. That keeps the scores bit-identical: a GEMM's
            // rounding depends on how many rows it multiplies together (OpenBLAS's AVX2 and
            // AVX-512 kernels differ in the last bits between 3 and 8 rows).
            let first = scores.count - scores.count % blockUnits
            let units = first..<min(first + blockUnits, data.units.count)
            let pairs = units.flatMap { unit in
                data.units[unit].map { ScoringPair(query: $0.query, document: $0.passage) }
            }
            let scored = try teacher.score(pairs, progress: { progress.advance(by: $0) }).scores
            var text = ""
            for (offset, unit) in units.enumerated() where unit >= scores.count {
                let row = Array(
                    scored[(offset * data.examplesPerUnit)..<((offset + 1) * data.examplesPerUnit)])
                scores.append(row)
                text += "\(unit)\t" + row.map { "\($0)" }.joined(separator: "\t") + "\n"
            }
            do {
                try handle.write(contentsOf: Data(text.utf8))
                try handle.synchronize()
            } catch {
                throw InparsCoreError.writeFailed(
                    path: url.path, reason: plainDescription(of: error))
            }
        }
        progress.finish()
        return scores
    }

    /// The complete lines of an existing file with `header` (a partial last line is cut off
    /// the file), or `[]` when there is no file.
    static func existing(at url: URL, header: String, data: TrainingData) throws -> [[Float]] {
        guard let bytes = FileManager.default.contents(atPath: url.path) else { return [] }
        let text = String(decoding: bytes, as: UTF8.self)
        func refuse(_ reason: String) -> TrainingError {
            .invalidOption(
                name: "--teacher", value: url.path,
                reason: "\(reason); delete that file or use another --output")
        }
        guard text.hasPrefix(header) else {
            if text.hasPrefix(magic) {
                throw refuse("the file holds the scores of another teacher, training file or --max-length")
            }
            throw refuse("the file is not an inpars teacher-scores file")
        }
        var scores = [[Float]]()
        var complete = header.utf8.count
        for line in text.dropFirst(header.count).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast()
        {
            let fields = line.split(separator: "\t").map(String.init)
            guard fields.count == 1 + data.examplesPerUnit, Int(fields[0]) == scores.count,
                scores.count < data.units.count
            else { throw refuse("line \(scores.count + 2) is not '<unit><TAB><scores>'") }
            let values = fields.dropFirst().compactMap(Float.init)
            guard values.count == data.examplesPerUnit else {
                throw refuse("line \(scores.count + 2) holds a score that is not a number")
            }
            scores.append(values)
            complete += line.utf8.count + 1
        }
        if complete < bytes.count {  // a partial line from a killed run
            do {
                let handle = try FileHandle(forWritingTo: url)
                try handle.truncate(atOffset: UInt64(complete))
                try handle.close()
            } catch {
                throw InparsCoreError.writeFailed(path: url.path, reason: plainDescription(of: error))
            }
        }
        return scores
    }
}

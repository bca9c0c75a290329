import Foundation
import InparsCore
import InparsTestSupport
import Testing

@testable import InparsFilter

@Suite struct SyntheticQueryReaderTests {
    @Test func readsInparsGenerateRowsWithModelAndBackend() throws {
        let line =
            #"{"doc_id": "d1", "text": "Aspirin lowers fever.", "query": "does aspirin lower fever", "log_probs": [-0.25, -1.5e-1, -2], "prompt_text": "Example 1: {\"x\": [1, 2]}", "fewshot_examples": ["q1", "q2"], "model": "tiny", "backend": "http"}"#
        let url = try writeInput([line])
        let (rows, stats) = try SyntheticQueryReader.read(url)
        #expect(stats.records == 1)
        let row = try #require(rows.first)
        #expect(row.docId == "d1")
        #expect(row.query == "does aspirin lower fever")
        #expect(row.documentText == "Aspirin lowers fever.")
        #expect(row.logProbs == [-0.25, -0.15, -2])
        #expect(row.convention == .toolkit)
        #expect(row.queryId == "0")
        #expect(row.rawLine == line)
    }

    @Test func readsLegacyV1FieldNamesAndNumericIds() throws {
        let url = try writeInput([
            "",
            #"{"doc_id": 4983, "doc_text": "Microstructural development of human brain.", "question": "how does the brain develop", "log_probs": [-1, -0.5, -0.25], "bad_question": "what is a brain"}"#,
        ])
        let (rows, stats) = try SyntheticQueryReader.read(url)
        #expect(stats.lines == 2)
        let row = try #require(rows.first)
        #expect(row.docId == "4983")
        #expect(row.query == "how does the brain develop")
        #expect(row.documentText == "Microstructural development of human brain.")
        #expect(row.convention == .legacyV1)
        #expect(row.lineNumber == 2)
        #expect(row.queryId == "1")
    }

    @Test func keepsTheRowsOwnQueryId() throws {
        let url = try writeInput([toolkitRow("d1", "q", extra: #", "query_id": "gen-7""#)])
        #expect(try SyntheticQueryReader.read(url).rows[0].queryId == "gen-7")
    }

    @Test func aRowWithoutAQueryNamesFileLineAndField() throws {
        let url = try writeInput([toolkitRow("d1", "ok"), #"{"doc_id": "d2", "log_probs": [-1]}"#])
        #expect(
            throws: InparsCoreError.malformedLine(
                path: url.path, line: 2, field: "query",
                reason: "missing (expected one of 'query', 'question')")
        ) { try SyntheticQueryReader.read(url) }
    }

    @Test func aRowWithoutADocIdIsMalformed() throws {
        let url = try writeInput([#"{"query": "q", "log_probs": [-1]}"#])
        do {
            _ = try SyntheticQueryReader.read(url)
            Issue.record("expected an error")
        } catch let InparsCoreError.malformedLine(path, line, field, _) {
            #expect(path == url.path && line == 1 && field == "doc_id")
        }
    }

    @Test func aNonNumericLogProbNamesTheElement() throws {
        let url = try writeInput([
            #"{"doc_id": "d1", "query": "q", "log_probs": [-1.0, "oops", -2]}"#
        ])
        do {
            _ = try SyntheticQueryReader.read(url, options: .init(skipFlag: "--skip-bad-lines"))
            Issue.record("expected an error")
        } catch let error as InparsCoreError {
            guard case .malformedLine(_, let line, let field, let reason) = error else {
                Issue.record("wrong case \(error)")
                return
            }
            #expect(line == 1 && field == "log_probs[1]")
            #expect(reason.contains("oops"))
            #expect(error.errorDescription?.contains("--skip-bad-lines") == true)
        }
        // Without a flag to name (a command that has none), no hint.
        #expect(throws: InparsCoreError.self) { _ = try SyntheticQueryReader.read(url) }
        do { _ = try SyntheticQueryReader.read(url) } catch let error as InparsCoreError {
            #expect(error.errorDescription?.contains("--skip-bad-lines") == false)
        }
    }

    @Test func nullAndNaNLogProbsAreRejected() throws {
        for bad in ["null", "NaN", "[1]", "{}"] {
            let line = #"{"doc_id": "d1", "query": "q", "log_probs": [-1, \#(bad)]}"#
            #expect(throws: InparsCoreError.self, "\(bad)") {
                try SyntheticQueryReader.parse(line, path: "f", lineNumber: 1)
            }
        }
        let notArray = #"{"doc_id": "d1", "query": "q", "log_probs": -1}"#
        #expect(throws: InparsCoreError.self) {
            try SyntheticQueryReader.parse(notArray, path: "f", lineNumber: 1)
        }
    }

    @Test func emptyLogProbArraysAndSpacingParse() throws {
        let a = try SyntheticQueryReader.parse(
            #"{"doc_id":"d","query":"q","log_probs":[]}"#, path: "f", lineNumber: 1)
        #expect(a.logProbs == [])
        let b = try SyntheticQueryReader.parse(
            #"{"doc_id":"d","query":"q","log_probs":[ -1 ,-2E-1 ] }"#, path: "f", lineNumber: 1)
        #expect(b.logProbs == [-1, -0.2])
    }

    @Test func requireLogProbsMakesAMissingListAnError() throws {
        let line = #"{"doc_id": "d1", "query": "q"}"#
        #expect(try SyntheticQueryReader.parse(line, path: "f", lineNumber: 1).logProbs == nil)
        #expect(throws: InparsCoreError.self) {
            try SyntheticQueryReader.parse(
                line, path: "f", lineNumber: 1, options: .init(requireLogProbs: true))
        }
    }

    @Test func skipBadLinesCountsAndKeepsTheFirstError() throws {
        let url = try writeInput([
            "not json", toolkitRow("d1", "good"), #"{"doc_id": "d2"}"#, toolkitRow("d3", "fine"),
        ])
        let (rows, stats) = try SyntheticQueryReader.read(url, options: .init(skipBadLines: true))
        #expect(rows.map(\.docId) == ["d1", "d3"])
        #expect(stats.skippedBadLines == 2)
        guard case .malformedLine(_, let line, _, _)? = stats.firstSkippedError else {
            Issue.record("no first error")
            return
        }
        #expect(line == 1)
    }

    @Test func anEmptyFileIsAClearError() throws {
        let url = try writeInput([])
        #expect(throws: FilterError.emptyInput(path: url.path, skippedLines: 0)) {
            try SyntheticQueryReader.read(url)
        }
        #expect(
            FilterError.emptyInput(path: "x.jsonl", skippedLines: 0).errorDescription?
                .contains("'x.jsonl'") == true)
        let allBad = try writeInput(["{", "[]"])
        #expect(throws: FilterError.emptyInput(path: allBad.path, skippedLines: 2)) {
            try SyntheticQueryReader.read(allBad, options: .init(skipBadLines: true))
        }
    }

    @Test func aMissingFileIsAClearError() throws {
        let url = URL(fileURLWithPath: "/nonexistent/q.jsonl")
        #expect(throws: InparsCoreError.fileNotFound(path: url.path)) {
            try SyntheticQueryReader.read(url)
        }
    }
}

/// Issue 16, finding 2: a cut gzip input is an error, even when malformed lines are skipped.
@Suite struct SyntheticQueryGzipTests {
    @Test func aTruncatedGzipInputIsAnError() throws {
        let folder = try TestPaths.temporaryDirectory("synthetic-gzip")
        defer { try? FileManager.default.removeItem(at: folder) }
        let line = #"{"doc_id": "d1", "text": "t", "query": "q", "log_probs": [-1]}"# + "\n"
        let gzip = GzipBytes(blocks: [line, line, line])
        let url = folder.appendingPathComponent("queries.jsonl.gz")
        try Data(gzip.damaged[0].bytes).write(to: url)
        for skip in [false, true] {
            #expect(throws: InparsCoreError.self, "skipBadLines \(skip)") {
                _ = try SyntheticQueryReader.read(url, options: .init(skipBadLines: skip))
            }
        }
        try Data(gzip.bytes).write(to: url)
        #expect(try SyntheticQueryReader.read(url).rows.count == 3)
    }
}

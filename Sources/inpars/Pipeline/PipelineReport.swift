import Foundation
import InparsCore

/// The loss and evaluation curves of `train_log.jsonl` (`DIR/train/model/`).
struct TrainingCurves {
    struct Point { var step: Double; var value: Double }
    var loss: [Point] = []
    var evalNDCG: [Point] = []

    static func read(_ work: URL) -> TrainingCurves {
        var curves = TrainingCurves()
        let url = work.appendingPathComponent("train/model/train_log.jsonl")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return curves }
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let step = (object["step"] as? NSNumber)?.doubleValue
            else { continue }
            if let loss = (object["loss"] as? NSNumber)?.doubleValue {
                curves.loss.append(Point(step: step, value: loss))
            }
            if let ndcg = (object["eval_ndcg@10"] as? NSNumber)?.doubleValue {
                curves.evalNDCG.append(Point(step: step, value: ndcg))
            }
        }
        return curves
    }
}

/// One `inpars evaluate --per-query` table, as the evaluate stage wrote it: the overall rows
/// keep their printed text, so the report shows exactly what `inpars evaluate` prints.
struct EvaluationTable {
    /// (metric, printed value) in the table's order.
    var overall: [(metric: String, text: String)] = []
    /// metric → query → value.
    var perQuery: [String: [String: Double]] = [:]

    static func read(_ path: String) -> EvaluationTable? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var table = EvaluationTable()
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t").map(String.init)
            guard fields.count == 3 else { continue }
            if fields[1] == "all" {
                if fields[0] != "queries" { table.overall.append((fields[0], fields[2])) }
            } else if let value = Double(fields[2]) {
                table.perQuery[fields[0], default: [:]][fields[1]] = value
            }
        }
        return table
    }
}

/// `DIR/report.md` and the self-contained `DIR/report.html` (inline SVG, no scripts, no
/// network): the recipe, each stage's time and peak memory, the metrics of BM25 and the
/// reranker with the difference, the per-query nDCG@10 change, the filter's score
/// distributions, example queries and the training curves.
struct PipelineReport {
    let plan: PipelinePlan

    static let markdownKind = OutputKind.file("an inpars pipeline report") {
        $0.hasPrefix("# inpars pipeline report")
    }
    static let htmlKind = OutputKind.file("an inpars pipeline report") {
        $0.hasPrefix("<!DOCTYPE html><!-- inpars pipeline report -->")
    }

    /// A generated query with its filter score.
    struct Query { var docID: String; var text: String; var score: Double }

    /// Everything the report shows, read from the stages' outputs.
    struct Contents {
        var stages: [(PipelineStage, StageManifest?)] = []
        var bm25: EvaluationTable?
        var rerank: EvaluationTable?
        var kept: [Query] = []
        var dropped: [Query] = []
        var droppedNote: String?
        var curves = TrainingCurves()
    }

    func gather() throws -> Contents {
        let work = plan.work
        var contents = Contents()
        for stage in PipelineStage.allCases {
            contents.stages.append(
                (stage, try? StageManifest.read(StageManifest.url(work: work, stage: stage))))
        }
        contents.bm25 = EvaluationTable.read(PipelinePlan.path(work, .evaluate, "bm25.tsv"))
        contents.rerank = EvaluationTable.read(PipelinePlan.path(work, .evaluate, "rerank.tsv"))
        contents.curves = TrainingCurves.read(work)
        let keptRows = Self.rows(PipelinePlan.path(work, .filter, "queries.jsonl"))
        contents.kept = keptRows.compactMap { row in
            (row["score"] as? NSNumber).map { Query(docID: Self.docID(row), text: Self.query(row), score: $0.doubleValue) }
        }
        // Dropped rows: those of generate's output that filter did not keep. Their score is
        // known when the filter ranks by log-probs (scores, consistency); a reranker's scores
        // of dropped rows are not written anywhere.
        let filterSection = plan.recipe.sections[.filter] ?? [:]
        let strategy = filterSection["strategy"]?.values.first ?? ""
        if strategy == "reranker" {
            contents.droppedNote = "the reranker strategy does not write the scores of dropped queries"
        } else {
            let keptKeys = Set(keptRows.map(Self.key))
            let function = filterSection["score"]?.values.first ?? "mean"
            for row in Self.rows(PipelinePlan.path(work, .generate, "queries.jsonl"))
            where !keptKeys.contains(Self.key(row)) {
                let logProbs = (row["log_probs"] as? [NSNumber])?.map(\.doubleValue) ?? []
                guard !logProbs.isEmpty else { continue }
                let score: Double
                switch function {
                case "sum": score = logProbs.reduce(0, +)
                case "mean-prob": score = logProbs.map { Foundation.exp($0) }.reduce(0, +) / Double(logProbs.count)
                default: score = logProbs.reduce(0, +) / Double(logProbs.count)
                }
                contents.dropped.append(Query(docID: Self.docID(row), text: Self.query(row), score: score))
            }
            if strategy == "consistency" {
                contents.droppedNote = "dropped queries include those that failed the consistency check"
            }
        }
        return contents
    }

    private static func rows(_ path: String) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
    private static func docID(_ row: [String: Any]) -> String { "\(row["doc_id"] ?? "")" }
    private static func query(_ row: [String: Any]) -> String {
        (row["query"] as? String) ?? (row["question"] as? String) ?? ""
    }
    private static func key(_ row: [String: Any]) -> String {
        "\(docID(row))\u{1}\(row["query_index"] ?? "")\u{1}\(query(row))"
    }

    /// Writes both files and returns their paths.
    func write() throws -> [URL] {
        let contents = try gather()
        let markdown = plan.work.appendingPathComponent("report.md")
        let html = plan.work.appendingPathComponent("report.html")
        try AtomicFile.write(Data(self.markdown(contents).utf8), to: markdown, replacing: Self.markdownKind)
        try AtomicFile.write(Data(self.html(contents).utf8), to: html, replacing: Self.htmlKind)
        return [markdown, html]
    }

    // MARK: Shared pieces

    /// (metric, BM25 text, reranker text, difference text).
    static func metricRows(_ contents: Contents) -> [(String, String, String, String)] {
        guard let bm25 = contents.bm25, let rerank = contents.rerank else { return [] }
        return zip(bm25.overall, rerank.overall).map { a, b in
            let difference = (Double(b.text) ?? 0) - (Double(a.text) ?? 0)
            let sign = difference > 0 ? "+" : ""
            return (a.metric, a.text, b.text, sign + formatFixed(difference, decimals: 4))
        }
    }

    /// Per query: reranked nDCG@10 minus BM25's, sorted from the largest gain to the largest loss.
    static func ndcgChanges(_ contents: Contents) -> [(query: String, change: Double)] {
        guard let before = contents.bm25?.perQuery["ndcg@10"], let after = contents.rerank?.perQuery["ndcg@10"]
        else { return [] }
        return Set(before.keys).union(after.keys).map { ($0, (after[$0] ?? 0) - (before[$0] ?? 0)) }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    }

    static func examples(_ contents: Contents) -> (best: [Query], worst: [Query]) {
        let sorted = contents.kept.sorted { $0.score > $1.score }
        let best = sorted.prefix(5)
        return (Array(best), Array(sorted.dropFirst(best.count).suffix(5).reversed()))
    }

    private static func stageRow(_ stage: PipelineStage, _ manifest: StageManifest?) -> [String] {
        guard let manifest else { return [stage.rawValue, "not run", "", "", ""] }
        return [
            stage.rawValue, manifest.state.rawValue,
            manifest.seconds.map(StageManifest.duration) ?? "",
            manifest.peakRSSBytes.map(StageManifest.bytes) ?? "",
            ((manifest.counts ?? []).map { "\($0.value) \($0.name)" } + (manifest.notes ?? []))
                .joined(separator: ", "),
        ]
    }

    // MARK: Markdown

    func markdown(_ contents: Contents) -> String {
        var text = "# inpars pipeline report\n\n"
        text += "Work folder `\(plan.work.path)`; recipe \(plan.recipe.source).\n\n"
        text += "## Metrics\n\n"
        let rows = Self.metricRows(contents)
        if rows.isEmpty {
            text += "The evaluate stage has not run.\n\n"
        } else {
            text += "| metric | BM25 | reranked | difference |\n|---|---:|---:|---:|\n"
            for row in rows { text += "| \(row.0) | \(row.1) | \(row.2) | \(row.3) |\n" }
            text += "\nAs `inpars evaluate` prints them for `search/run.trec` and `rerank/run.trec`.\n\n"
            let changes = Self.ndcgChanges(contents)
            let wins = changes.filter { $0.change > 0 }.count
            let losses = changes.filter { $0.change < 0 }.count
            text += "Per query, nDCG@10: \(wins) better, \(losses) worse, \(changes.count - wins - losses) unchanged"
            if let best = changes.first, let worst = changes.last {
                text += "; largest gain \(formatFixed(best.change, decimals: 4)) (query \(best.query)),"
                    + " largest loss \(formatFixed(worst.change, decimals: 4)) (query \(worst.query))"
            }
            text += ".\n\n"
        }
        text += "## Stages\n\n| stage | state | time | peak RSS | counts |\n|---|---|---:|---:|---|\n"
        for (stage, manifest) in contents.stages {
            text += "| " + Self.stageRow(stage, manifest).joined(separator: " | ") + " |\n"
        }
        text += "\n## Filter\n\n"
        text += Self.distributionSummary("kept", contents.kept.map(\.score))
        text += Self.distributionSummary("dropped", contents.dropped.map(\.score))
        if let note = contents.droppedNote { text += "(\(note).)\n" }
        let (best, worst) = Self.examples(contents)
        text += "\nBest kept queries:\n\n"
        for q in best { text += "- \(formatFixed(q.score, decimals: 4)) `\(q.docID)`: \(q.text)\n" }
        text += "\nWorst kept queries:\n\n"
        for q in worst { text += "- \(formatFixed(q.score, decimals: 4)) `\(q.docID)`: \(q.text)\n" }
        text += "\n## Training\n\n"
        let curves = contents.curves
        if let first = curves.loss.first, let last = curves.loss.last {
            text += "Loss \(formatFixed(first.value, decimals: 4)) at step \(Int(first.step)) →"
                + " \(formatFixed(last.value, decimals: 4)) at step \(Int(last.step)).\n"
        }
        if !curves.evalNDCG.isEmpty {
            text += "Eval nDCG@10 by step: "
                + curves.evalNDCG.map { "\(Int($0.step)): \(formatFixed($0.value, decimals: 4))" }
                    .joined(separator: ", ") + ".\n"
        }
        text += "\n## Recipe\n\n```yaml\n" + plan.recipe.resolvedYAML + "```\n"
        return text
    }

    private static func distributionSummary(_ name: String, _ scores: [Double]) -> String {
        guard !scores.isEmpty else { return "- \(name): none\n" }
        let sorted = scores.sorted()
        return "- \(name): \(scores.count) queries, score min \(formatFixed(sorted.first!, decimals: 4)),"
            + " median \(formatFixed(sorted[sorted.count / 2], decimals: 4)),"
            + " max \(formatFixed(sorted.last!, decimals: 4))\n"
    }

    // MARK: HTML

    func html(_ contents: Contents) -> String {
        var body = "<h1>inpars pipeline report</h1>\n<p>Work folder <code>\(Self.escape(plan.work.path))</code>; recipe \(Self.escape(plan.recipe.source)).</p>\n"
        body += "<h2>Metrics</h2>\n"
        let rows = Self.metricRows(contents)
        if rows.isEmpty {
            body += "<p>The evaluate stage has not run.</p>\n"
        } else {
            body += Self.table(["metric", "BM25", "reranked", "difference"], rows.map { [$0.0, $0.1, $0.2, $0.3] })
            body += "<h3>nDCG@10 change per query (reranked − BM25), sorted</h3>\n"
            body += SVGCharts.bars(Self.ndcgChanges(contents).map(\.change))
        }
        body += "<h2>Stages</h2>\n"
        body += Self.table(["stage", "state", "time", "peak RSS", "counts"], contents.stages.map(Self.stageRow))
        body += "<h2>Filter scores: kept and dropped</h2>\n"
        body += SVGCharts.histogram(
            [("kept", contents.kept.map(\.score), "#1f77b4"), ("dropped", contents.dropped.map(\.score), "#d62728")])
        if let note = contents.droppedNote { body += "<p>(\(Self.escape(note)).)</p>\n" }
        let (best, worst) = Self.examples(contents)
        body += "<h3>Best kept queries</h3>\n"
        body += Self.table(["score", "document", "query"], best.map { [formatFixed($0.score, decimals: 4), $0.docID, $0.text] })
        body += "<h3>Worst kept queries</h3>\n"
        body += Self.table(["score", "document", "query"], worst.map { [formatFixed($0.score, decimals: 4), $0.docID, $0.text] })
        body += "<h2>Training</h2>\n<h3>Loss by step</h3>\n" + SVGCharts.line(contents.curves.loss)
        body += "<h3>Eval nDCG@10 by step</h3>\n" + SVGCharts.line(contents.curves.evalNDCG)
        body += "<h2>Recipe</h2>\n<pre>" + Self.escape(plan.recipe.resolvedYAML) + "</pre>\n"
        return """
            <!DOCTYPE html><!-- inpars pipeline report -->
            <html><head><meta charset="utf-8"><title>inpars pipeline report</title>
            <style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}
            table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}
            pre{background:#f6f6f6;padding:1em;overflow:auto}svg{background:#fff;border:1px solid #eee}</style>
            </head><body>
            \(body)</body></html>

            """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    private static func table(_ header: [String], _ rows: [[String]]) -> String {
        var html = "<table><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n"
        for row in rows { html += "<tr>" + row.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n" }
        return html + "</table>\n"
    }
}

/// Small inline SVG charts (no scripts, no fonts to fetch).
enum SVGCharts {
    static let width = 640.0
    static let height = 220.0
    static let margin = 40.0

    static func number(_ value: Double) -> String { formatFixed(value, decimals: 1) }

    /// One bar per value around a zero line (green above, red below).
    static func bars(_ values: [Double]) -> String {
        guard !values.isEmpty else { return "<p>No queries.</p>\n" }
        let top = max(values.map(abs).max() ?? 0, 1e-9)
        let plotWidth = width - 2 * margin
        let mid = height / 2
        let barWidth = plotWidth / Double(values.count)
        var svg = open() + axisLabel("+\(formatFixed(top, decimals: 3))", x: 2, y: margin / 2 + 4)
            + axisLabel("−\(formatFixed(top, decimals: 3))", x: 2, y: height - margin / 2)
            + "<line x1=\"\(number(margin))\" y1=\"\(number(mid))\" x2=\"\(number(width - margin))\" y2=\"\(number(mid))\" stroke=\"#888\"/>\n"
        for (i, value) in values.enumerated() where value != 0 {
            let h = abs(value) / top * (mid - margin / 2)
            let y = value > 0 ? mid - h : mid
            svg += "<rect x=\"\(number(margin + Double(i) * barWidth))\" y=\"\(number(y))\" width=\"\(number(max(barWidth, 0.5)))\" height=\"\(number(h))\" fill=\"\(value > 0 ? "#2ca02c" : "#d62728")\"/>\n"
        }
        return svg + "</svg>\n"
    }

    /// Overlaid histograms over a shared range, 20 bins.
    static func histogram(_ series: [(name: String, values: [Double], color: String)]) -> String {
        let all = series.flatMap(\.values)
        guard let low = all.min(), let high = all.max() else { return "<p>No scores.</p>\n" }
        let bins = 20
        let span = max(high - low, 1e-9)
        let counts = series.map { s -> [Int] in
            var c = [Int](repeating: 0, count: bins)
            for v in s.values { c[min(bins - 1, Int((v - low) / span * Double(bins)))] += 1 }
            return c
        }
        let top = Double(max(counts.flatMap { $0 }.max() ?? 1, 1))
        let binWidth = (width - 2 * margin) / Double(bins)
        var svg = open()
        for (k, s) in series.enumerated() {
            for (b, count) in counts[k].enumerated() where count > 0 {
                let h = Double(count) / top * (height - 2 * margin)
                svg += "<rect x=\"\(number(margin + Double(b) * binWidth))\" y=\"\(number(height - margin - h))\" width=\"\(number(binWidth))\" height=\"\(number(h))\" fill=\"\(s.color)\" fill-opacity=\"0.5\"/>\n"
            }
            svg += "<rect x=\"\(number(width - 150))\" y=\"\(number(10 + Double(k) * 16))\" width=\"10\" height=\"10\" fill=\"\(s.color)\"/>"
                + axisLabel("\(s.name) (\(s.values.count))", x: width - 135, y: 19 + Double(k) * 16)
        }
        svg += axisLabel(formatFixed(low, decimals: 2), x: margin, y: height - margin / 2)
            + axisLabel(formatFixed(high, decimals: 2), x: width - margin - 30, y: height - margin / 2)
            + axisLabel("max \(Int(top)) per bin", x: 2, y: margin / 2)
        return svg + "</svg>\n"
    }

    /// A polyline of (step, value) points.
    static func line(_ points: [TrainingCurves.Point]) -> String {
        guard let first = points.first else { return "<p>No data.</p>\n" }
        let xs = points.map(\.step)
        let ys = points.map(\.value)
        let (x0, x1) = (xs.min()!, max(xs.max()!, xs.min()! + 1e-9))
        let (y0, y1) = (ys.min()!, max(ys.max()!, ys.min()! + 1e-9))
        func px(_ x: Double) -> Double { margin + (x - x0) / (x1 - x0) * (width - 2 * margin) }
        func py(_ y: Double) -> Double { height - margin - (y - y0) / (y1 - y0) * (height - 2 * margin) }
        var svg = open()
        let path = points.map { "\(number(px($0.step))),\(number(py($0.value)))" }.joined(separator: " ")
        svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\"/>\n"
        for p in points where points.count <= 50 {
            svg += "<circle cx=\"\(number(px(p.step)))\" cy=\"\(number(py(p.value)))\" r=\"2.5\" fill=\"#1f77b4\"/>\n"
        }
        svg += axisLabel(formatFixed(y1, decimals: 4), x: 2, y: margin - 4)
            + axisLabel(formatFixed(y0, decimals: 4), x: 2, y: height - margin + 12)
            + axisLabel("step \(Int(first.step))", x: margin, y: height - 8)
            + axisLabel("step \(Int(x1))", x: width - margin - 40, y: height - 8)
        return svg + "</svg>\n"
    }

    private static func open() -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">\n"
    }

    private static func axisLabel(_ text: String, x: Double, y: Double) -> String {
        "<text x=\"\(number(x))\" y=\"\(number(y))\" font-size=\"11\" fill=\"#333\">\(PipelineReport.escape(text))</text>\n"
    }
}

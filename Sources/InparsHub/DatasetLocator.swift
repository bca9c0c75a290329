import Foundation
import InparsCore
import InparsHTTP

/// A BEIR data set unpacked in the inpars cache, and the files of one split.
public struct BEIRDataset: Sendable, Equatable {
    /// `beir/<name>[/<subset>]`, without the split.
    public var name: String
    /// The folder holding `corpus.jsonl`, `queries.jsonl` and `qrels/<split>.tsv`.
    public var folder: URL
    /// The split (default `test`).
    public var split: String

    /// `corpus.jsonl`.
    public var corpus: URL { folder.appendingPathComponent("corpus.jsonl") }
    /// `qrels/<split>.tsv`.
    public var qrels: URL { folder.appendingPathComponent("qrels/\(split).tsv") }
    /// `queries-<split>.jsonl`: the lines of `queries.jsonl` whose `_id` the split's qrels
    /// judge (what BEIR's loader and Pyserini's BEIR topics give), written on first use.
    public var splitQueries: URL { folder.appendingPathComponent("queries-\(split).jsonl") }
}

/// Turns `--corpus`, `--queries` and `--qrels` values into local files: a path as it is, or
/// `beir/<name>[/<subset>][/<split>]` through the inpars cache, downloading and unpacking
/// BEIR's zip on first use. See `Docs/models-and-data.md`.
public enum DatasetLocator {
    /// Which file of a data set an option wants.
    public enum Role: Sendable {
        case corpus, queries, qrels
    }

    /// Whether `spec` names a data set rather than a file: it starts with `beir/` and no file
    /// of that name exists.
    public static func isDatasetName(_ spec: String) -> Bool {
        spec.hasPrefix("beir/") && !FileManager.default.fileExists(atPath: spec)
    }

    /// The local file for `spec` in `role`: `spec` itself unless it names a data set.
    public static func resolve(
        _ spec: String, role: Role, settings: DatasetSettings = .fromEnvironment(),
        sink: ProgressSink = StandardErrorProgressSink()
    ) throws(HubError) -> URL {
        guard isDatasetName(spec) else { return URL(fileURLWithPath: spec) }
        let dataset = try prepare(spec, settings: settings, sink: sink)
        switch role {
        case .corpus: return dataset.corpus
        case .qrels: return dataset.qrels
        case .queries:
            try writeSplitQueries(dataset)
            return dataset.splitQueries
        }
    }

    /// Downloads and unpacks the data set `spec` names unless the cache has it, and checks
    /// that the split exists.
    public static func prepare(
        _ spec: String, settings: DatasetSettings = .fromEnvironment(),
        sink: ProgressSink = StandardErrorProgressSink()
    ) throws(HubError) -> BEIRDataset {
        var parts = spec.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, parts.first == "beir" else {
            throw .invalidDatasetSpec(
                spec: spec, reason: "data sets are named beir/<name>[/<split>]")
        }
        parts.removeFirst()
        let name = parts.removeFirst()
        guard BEIRChecksums.isPlausibleName(name), parts.allSatisfy(BEIRChecksums.isPlausibleName)
        else {
            throw .invalidDatasetSpec(
                spec: spec,
                reason:
                    "names are lower-case letters, digits, '-', '_' and '.', e.g. beir/scifact or beir/nfcorpus/dev"
            )
        }
        var folder = try BEIRArchive(name: name, settings: settings, sink: sink).unpackedFolder()
        var datasetName = "beir/\(name)"
        let manager = FileManager.default
        while !manager.fileExists(atPath: folder.appendingPathComponent("corpus.jsonl").path) {
            let subsets = ((try? manager.contentsOfDirectory(atPath: folder.path)) ?? []).filter {
                manager.fileExists(atPath: folder.appendingPathComponent("\($0)/corpus.jsonl").path)
                    || manager.fileExists(atPath: folder.appendingPathComponent("\($0)/qrels").path)
            }.sorted()
            guard let next = parts.first, subsets.contains(next) else {
                let reason =
                    subsets.isEmpty
                    ? "it has no corpus.jsonl"
                    : "it has subsets (\(subsets.joined(separator: ", "))); name one as \(datasetName)/<subset>"
                throw .invalidDatasetSpec(spec: spec, reason: reason)
            }
            parts.removeFirst()
            folder.appendPathComponent(next)
            datasetName += "/\(next)"
        }
        guard parts.count <= 1 else {
            throw .invalidDatasetSpec(
                spec: spec, reason: "expected \(datasetName)/<split>, found more after the split")
        }
        let dataset = BEIRDataset(name: datasetName, folder: folder, split: parts.first ?? "test")
        guard manager.fileExists(atPath: dataset.qrels.path) else {
            let available =
                ((try? manager.contentsOfDirectory(
                    atPath: folder.appendingPathComponent("qrels").path)) ?? [])
                .filter { $0.hasSuffix(".tsv") }.map { String($0.dropLast(4)) }.sorted()
            throw .splitNotFound(dataset: datasetName, split: dataset.split, available: available)
        }
        return dataset
    }

    /// Writes `queries-<split>.jsonl` (atomically) unless it exists.
    private static func writeSplitQueries(_ dataset: BEIRDataset) throws(HubError) {
        guard !FileManager.default.fileExists(atPath: dataset.splitQueries.path) else { return }
        let source = dataset.folder.appendingPathComponent("queries.jsonl")
        do {
            let judged = Set(try Qrels.read(dataset.qrels).judgments.keys)
            let reader = try LineReader(url: source)
            try AtomicFile.write(to: dataset.splitQueries, compressed: false) { output in
                try reader.forEachLine { bytes, number in
                    let fields: [String: JSONLine.Value]
                    do throws(JSONLine.ParseError) {
                        fields = try JSONLine.parseObject(bytes)
                    } catch {
                        throw InparsCoreError.malformedLine(
                            path: source.path, line: number, field: error.key, reason: error.reason)
                    }
                    if let id = fields["_id"]?.idString, judged.contains(id) {
                        try output.write(bytes: bytes)
                        try output.write("\n")
                    }
                }
            }
        } catch {
            throw .damagedDataset(path: source.path, reason: error.localizedDescription)
        }
    }
}

/// One BEIR zip: `$INPARS_BEIR_URL/<name>.zip`, downloaded (resumably, checked against its
/// md5) to `<cache>/beir/<name>.zip`, unpacked to `<cache>/beir/<name>/`, then removed.
struct BEIRArchive {
    let name: String
    let settings: DatasetSettings
    let sink: ProgressSink

    var folder: URL { settings.cacheDirectory.appendingPathComponent("beir") }
    var unpacked: URL { folder.appendingPathComponent(name) }
    var zip: URL { folder.appendingPathComponent("\(name).zip") }
    var url: String { "\(settings.beirURL)/\(name).zip" }

    /// The unpacked folder, fetching and unpacking the zip first when needed.
    func unpackedFolder() throws(HubError) -> URL {
        let manager = FileManager.default
        if manager.fileExists(atPath: unpacked.path) { return unpacked }
        let cache = RepoCache(root: settings.cacheDirectory, repo: "")
        try cache.createFolder(folder)
        let lock = try FileLock(folder.appendingPathComponent(".\(name).lock")) {
            sink.emit("waiting for another process that is fetching beir/\(name)", transient: false)
        }
        defer { withExtendedLifetime(lock) {} }
        if manager.fileExists(atPath: unpacked.path) { return unpacked }
        if !manager.fileExists(atPath: zip.path) { try download() }
        try unpack()
        try? manager.removeItem(at: zip)
        return unpacked
    }

    private func download() throws(HubError) {
        let transfer = FileTransfer(
            retry: settings.retry, timeout: settings.downloadTimeout, sink: sink)
        let headers = [("User-Agent", HubSettings.userAgent)]
        let head = try transfer.send(
            HTTPRequest(
                method: "HEAD", url: url, headers: headers, timeout: settings.downloadTimeout,
                followsRedirects: true),
            retrying: true)
        if head.status == 404 { throw .datasetNotFound(name: "beir/\(name)", url: url) }
        let size = head.isSuccess ? head.headers["content-length"].flatMap { Int($0) } : nil
        let md5 = try expectedMD5(transfer)
        if md5 == nil {
            sink.emit(
                "beir/\(name): no published md5 for \(url); the zip is checked for size and CRC only",
                transient: false)
        }
        sink.emit("downloading beir/\(name) from \(url)", transient: false)
        try transfer.download(
            DownloadRequest(
                url: url, headers: headers, destination: zip, expectedSize: size,
                digest: md5.map { .md5($0) }, label: "beir/\(name).zip"))
    }

    /// BEIR's published md5 for its own folder; elsewhere `<name>.zip.md5` when the server has
    /// one.
    private func expectedMD5(_ transfer: FileTransfer) throws(HubError) -> String? {
        if settings.isOfficialBEIR { return BEIRChecksums.md5[name] }
        let sumURL = url + ".md5"
        let response = try transfer.send(
            HTTPRequest(
                method: "GET", url: sumURL, headers: [("User-Agent", HubSettings.userAgent)],
                timeout: settings.downloadTimeout, followsRedirects: true),
            retrying: true)
        if response.status == 404 { return nil }
        guard response.isSuccess else {
            throw .unexpectedStatus(
                url: sumURL, status: response.status, body: HTTPError.excerpt(response.body))
        }
        let token =
            String(decoding: response.body, as: UTF8.self)
            .split(whereSeparator: { $0.isWhitespace }).first.map { $0.lowercased() } ?? ""
        guard token.count == 32, token.allSatisfy(\.isHexDigit) else {
            throw .damagedDataset(path: sumURL, reason: "it does not start with an md5 sum")
        }
        return token
    }

    /// Removes a zip that cannot be read (a later run downloads it anew) and says why.
    private func discard(_ failure: ZipArchive.Failure) -> HubError {
        try? FileManager.default.removeItem(at: zip)
        return .damagedDataset(
            path: zip.path,
            reason: failure.reason + "; the zip was removed, run again to download it anew")
    }

    /// Unpacks the entries under `<name>/` (or all, when the zip has no such folder) into a
    /// temporary folder renamed to `<cache>/beir/<name>` when complete.
    private func unpack() throws(HubError) {
        let archive: ZipArchive
        do {
            archive = try ZipArchive(file: MappedFile(path: zip.path))
        } catch let failure as ZipArchive.Failure {
            throw discard(failure)
        } catch {
            throw .damagedDataset(path: zip.path, reason: "cannot map it (\(error))")
        }
        let prefix = archive.names.contains { $0.hasPrefix("\(name)/") } ? "\(name)/" : ""
        let entries = archive.names.compactMap { archive.entries[$0] }
            .filter { $0.name.hasPrefix(prefix) && !$0.isDirectory && $0.name.count > prefix.count }
        let total = entries.reduce(0) { $0 + Int($1.uncompressedSize) }
        let progress = ProgressReporter(
            label: "unpacking beir/\(name)", total: total, sink: sink, unit: .bytes)
        do {
            try AtomicFile.writeDirectory(at: unpacked) { temporary in
                for entry in entries {
                    let relative = String(entry.name.dropFirst(prefix.count))
                    try HubClient.checkRelativePath(relative, what: "zip entry name")
                    guard !relative.contains("\\") else {
                        throw HubError.unsafeName(what: "zip entry name", value: relative)
                    }
                    let target = temporary.appendingPathComponent(relative)
                    try FileManager.default.createDirectory(
                        at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                    let output = try OutputFile(url: target, compressed: false)
                    try archive.forEachChunk(of: entry) { chunk in
                        try output.write(raw: chunk)
                        progress.advance(by: chunk.count)
                    }
                    try output.close()
                }
            }
        } catch let error as HubError {
            throw error
        } catch let failure as ZipArchive.Failure {
            throw discard(failure)
        } catch {
            throw .cacheIO(path: unpacked.path, reason: error.localizedDescription)
        }
        progress.finish()
    }
}

/// The md5 sums BEIR publishes for the zips in its download folder (its README's data set
/// table).
enum BEIRChecksums {
    static let md5: [String: String] = [
        "msmarco": "444067daf65d982533ea17ebd59501e4",
        "trec-covid": "ce62140cb23feb9becf6270d0d1fe6d1",
        "nfcorpus": "a89dba18a62ef92f7d323ec890a0d38d",
        "nq": "d4d3d2e48787a744b6f6e691ff534307",
        "hotpotqa": "f412724f78b0d91183a0e86805e16114",
        "fiqa": "17918ed23cd04fb15047f73e6c3bd9d9",
        "arguana": "8ad3e3c2a5867cdced806d6503f29b99",
        "webis-touche2020": "46f650ba5a527fc69e0a6521c5a23563",
        "cqadupstack": "4e41456d7df8ee7760a7f866133bda78",
        "quora": "18fb154900ba42a600f84b839c173167",
        "dbpedia-entity": "c2a39eb420a3164af735795df012ac2c",
        "scidocs": "38121350fc3a4d2f48850f6aff52e4a9",
        "fever": "5a818580227bfb4b35bb6fa46d9b6c03",
        "climate-fever": "8b66f0a9126c521bae2bde127b4dc99d",
        "scifact": "5f7d1de60b170fc8027bb7898e2efca1",
    ]

    /// Lower-case letters, digits, `-`, `_`, `.`; not starting with `.`.
    static func isPlausibleName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first != "." else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0)
                || "-_.".unicodeScalars.contains($0)
        }
    }
}

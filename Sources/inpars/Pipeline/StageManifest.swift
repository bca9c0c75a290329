import Foundation
import InparsCore

/// `DIR/<stage>/stage.json`: what a pipeline stage ran and read, and (once complete) what it
/// wrote, how long it took and its peak memory. It is the proof that the pipeline wrote the
/// stage's outputs, so a rerun with other options may replace them; a stage directory without
/// one is left to the commands, which refuse to replace what they did not write.
struct StageManifest: Codable, Sendable {
    static let formatName = "inpars-pipeline-stage"

    enum State: String, Codable, Sendable { case running, complete }

    /// One count for the summary line and the report ("queries kept": 100).
    struct Count: Codable, Sendable, Equatable {
        var name: String
        var value: Int
    }

    var format = StageManifest.formatName
    var stage: PipelineStage
    /// The command line after `inpars <stage>` (without the run-time `--resume`).
    var arguments: [String]
    /// The pipeline's own settings of the stage (budgeted generation).
    var settings: [String]?
    /// The identity of every input when the stage started.
    var inputs: [InputIdentity]
    /// Every path the stage writes (the pipeline may replace these on a rerun).
    var owned: [String]
    var state: State
    /// The products' identities when the stage completed.
    var products: [InputIdentity]?
    var seconds: Double?
    var peakRSSBytes: Int64?
    var counts: [Count]?
    /// For budgeted generation: documents generated over all rounds, and rounds run.
    var notes: [String]?

    static let kind = OutputKind.file("an inpars pipeline stage manifest") {
        $0.contains("\"\(formatName)\"")
    }

    static func url(work: URL, stage: PipelineStage) -> URL {
        work.appendingPathComponent(stage.rawValue).appendingPathComponent("stage.json")
    }

    /// The manifest at `url`, nil when there is none; a file that is not one is an error.
    static func read(_ url: URL) throws -> StageManifest? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data = try Data(contentsOf: url)
        guard let manifest = try? JSONDecoder().decode(StageManifest.self, from: data),
            manifest.format == formatName
        else {
            throw InparsCoreError.refusingToReplace(
                path: url.path, reason: "it is not an inpars pipeline stage manifest")
        }
        return manifest
    }

    /// Writes the manifest atomically, on one line (so its kind is recognised by that line).
    func write(_ url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AtomicFile.write(data, to: url, replacing: Self.kind)
    }

    /// "12.3 s, peak RSS 1.2 GB, 100 queries kept".
    var summary: String {
        var parts: [String] = []
        if let seconds { parts.append(Self.duration(seconds)) }
        if let peakRSSBytes { parts.append("peak RSS \(Self.bytes(peakRSSBytes))") }
        for count in counts ?? [] { parts.append("\(count.value) \(count.name)") }
        parts += notes ?? []
        return parts.joined(separator: ", ")
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return formatFixed(seconds, decimals: 1) + " s" }
        if seconds < 3600 { return formatFixed(seconds / 60, decimals: 1) + " min" }
        return formatFixed(seconds / 3600, decimals: 2) + " h"
    }

    static func bytes(_ value: Int64) -> String {
        let mb = Double(value) / 1_048_576
        return mb >= 1024 ? formatFixed(mb / 1024, decimals: 2) + " GB" : formatFixed(mb, decimals: 0) + " MB"
    }
}

/// This process's peak resident memory, per stage: `reset()` clears the kernel's high-water
/// mark (Linux `clear_refs`), `peakBytes()` reads it (`VmHWM`). nil where neither exists.
enum PeakMemory {
    static func reset() {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return }
        try? handle.write(contentsOf: Data("5".utf8))
        try? handle.close()
    }

    static func peakBytes() -> Int64? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
            return nil
        }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kb = Int64(fields[1]) { return kb * 1024 }
        }
        return nil
    }
}

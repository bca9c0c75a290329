import Foundation
import InparsCore

/// What a `generate` output was made with, stored beside it as `<output>.manifest.json`.
///
/// `settings` are the values that shape the output (corpus, seed, template, model, decoding);
/// a rerun whose settings differ refuses to append. `info` is recorded but not compared: the
/// server address, the concurrency and the number of documents asked for (a rerun with a
/// larger `--max-generations` extends the sample, because the draw is prefix-stable).
public struct GenerationManifest: Codable, Sendable, Equatable {
    /// Format version of this file.
    public var version: Int = 1
    /// Compared on resume.
    public var settings: [String: String]
    /// Recorded only.
    public var info: [String: String]
    /// The template text, recorded for the record (its name and hash are in `settings`).
    public var template: String

    public init(settings: [String: String], info: [String: String], template: String) {
        self.settings = settings
        self.info = info
        self.template = template
    }

    /// The manifest path for an output path.
    public static func url(for output: URL) -> URL {
        output.deletingLastPathComponent().appendingPathComponent(
            output.lastPathComponent + ".manifest.json")
    }

    /// Reads the manifest at `url`, or `nil` when there is none.
    public static func read(_ url: URL) throws -> GenerationManifest? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        do {
            return try JSONDecoder().decode(GenerationManifest.self, from: data)
        } catch {
            throw GenerationError.corruptOutput(
                path: url.path, line: 1,
                reason: "not a generation manifest: \(plainDescription(of: error))")
        }
    }

    /// Writes the manifest atomically (replacing only a manifest).
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        try AtomicFile.write(data, to: url, replacing: Self.outputKind)
    }

    /// A manifest file: one that decodes as a manifest.
    public static let outputKind = OutputKind(name: "a generation manifest", shape: .file) { url in
        (try? read(url)) != nil
    }

    /// What `generate` may append to or, with `--overwrite`, replace: a file with a manifest
    /// beside it, or whose first line is a generation (a JSON object with `doc_id` and `query`,
    /// and without the `score` a filter output has).
    public static let generationsKind = OutputKind(
        name: "an 'inpars generate' output", shape: .file
    ) { url in
        if (try? read(Self.url(for: url))) != nil { return true }
        guard let line = try? LineReader.firstNonBlankLine(of: url),
            let object = try? JSONLine.parseObject(line)
        else { return false }
        return object["doc_id"] != nil && object["query"] != nil && object["score"] == nil
    }

    /// Human-readable differences in `settings` (`"seed: 1 → 2"`), empty when compatible.
    public func differences(from other: GenerationManifest) -> [String] {
        Set(settings.keys).union(other.settings.keys).sorted().compactMap { key in
            let old = settings[key] ?? "(unset)"
            let new = other.settings[key] ?? "(unset)"
            return old == new ? nil : "\(key): \(old) → \(new)"
        }
    }
}

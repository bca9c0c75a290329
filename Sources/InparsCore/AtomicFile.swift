import Foundation

/// Writes files and directories so that a crash never leaves a complete-looking output:
/// everything is written under a temporary name in the same directory and renamed at the end.
public enum AtomicFile {
    /// A hidden sibling name for `url`: `.<name>.tmp-<pid>-<random>`.
    public static func temporarySibling(of url: URL) -> URL {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())-\(suffix)")
    }

    /// Writes `url` through an ``OutputFile`` on a temporary name, then renames it into place
    /// (replacing an existing file). On error the temporary file is removed.
    ///
    /// - Parameter compressed: gzip or not; `nil` means "when the name ends in `.gz`".
    @discardableResult
    public static func write<Result>(
        to url: URL, compressed: Bool? = nil, _ body: (OutputFile) throws -> Result
    ) throws -> Result {
        let temporary = temporarySibling(of: url)
        let useGzip = compressed ?? (url.pathExtension == "gz")
        do {
            let output = try OutputFile(url: temporary, compressed: useGzip)
            let result = try body(output)
            try output.close()
            try rename(temporary, to: url)
            return result
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Writes `data` to `url` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url, compressed: false) { output in try output.write(bytes: data) }
    }

    /// Builds a directory at `url`: `body` fills a fresh temporary sibling directory, which is
    /// then renamed to `url`. An existing directory at `url` is first renamed aside and removed
    /// only once the new one is in place, so a crash between the two renames leaves the
    /// previous directory beside it (as `.<name>.old-…`), never nothing. On error the temporary
    /// directory is removed and `url` is left as it was.
    @discardableResult
    public static func writeDirectory<Result>(
        at url: URL, _ body: (URL) throws -> Result
    ) throws -> Result {
        let temporary = temporarySibling(of: url)
        let manager = FileManager.default
        let result: Result
        do {
            try manager.createDirectory(at: temporary, withIntermediateDirectories: true)
            result = try body(temporary)
        } catch {
            try? manager.removeItem(at: temporary)
            throw error
        }
        guard manager.fileExists(atPath: url.path) else {
            do {
                try rename(temporary, to: url)
            } catch {
                try? manager.removeItem(at: temporary)
                throw error
            }
            return result
        }
        let old = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).old-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try rename(url, to: old)
        } catch {
            try? manager.removeItem(at: temporary)
            throw error
        }
        do {
            try rename(temporary, to: url)
        } catch {
            _ = Foundation.rename(old.path, url.path)
            try? manager.removeItem(at: temporary)
            throw error
        }
        try? manager.removeItem(at: old)
        return result
    }

    private static func rename(_ from: URL, to: URL) throws {
        if Foundation.rename(from.path, to.path) != 0 {
            throw InparsCoreError.writeFailed(
                path: to.path, reason: "rename failed: \(String(cString: strerror(errno)))")
        }
    }
}

import Foundation
import InparsCore
import InparsTensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes `.safetensors` files that Hugging Face `safetensors` and `transformers` load.
///
/// Tensors are stored as `F32` in name order, back to back; the JSON header lists them with
/// sorted keys and is padded with spaces to a multiple of 8 bytes, so every tensor starts
/// 8-byte aligned in the file. The file is written to a temporary name in the same folder,
/// flushed with `fsync`, and renamed over `url`, so a crash never leaves a partial file there.
public enum SafetensorsWriter {
    /// What ``write(_:to:metadata:)`` may replace: a file that starts like a safetensors file
    /// (an 8-byte header length, then `{`); any other existing file is refused.
    public static let outputKind = OutputKind(name: "a safetensors file", shape: .file) { url in
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 9)) ?? Data())
        return head.count == 9 && head[8] == UInt8(ascii: "{")
    }

    /// Writes `tensors` (and `metadata` as `__metadata__`, omitted when empty) to `url`.
    ///
    /// The default metadata `{"format": "pt"}` is what Hugging Face `transformers` expects when
    /// it loads a `model.safetensors`. The caller chooses the names: for tied weights write one
    /// name (e.g. `shared.weight`), as `save_pretrained` does.
    ///
    /// - Parameters:
    ///   - tensors: name → tensor of any shape (0-d and empty tensors included).
    ///   - url: the destination; its folder must exist.
    ///   - metadata: string map stored under `__metadata__`.
    /// - Throws: ``CheckpointError/io(file:reason:)`` when the file cannot be written; the
    ///   previous file at `url`, if any, is then left untouched.
    public static func write(
        _ tensors: [String: Tensor], to url: URL, metadata: [String: String] = ["format": "pt"]
    ) throws(CheckpointError) {
        do {
            try outputKind.check(url)
        } catch {
            throw .io(file: url.path, reason: plainDescription(of: error))
        }
        let header = headerBytes(tensors, metadata: metadata)
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .io(file: temporary.path, reason: String(cString: strerror(errno)))
        }
        var succeeded = false
        defer {
            if !succeeded {
                close(fd)
                unlink(temporary.path)
            }
        }
        var length = UInt64(header.count).littleEndian
        var failure = withUnsafeBytes(of: &length) { writeAll(fd, $0) }
        if failure == 0 { failure = header.withUnsafeBytes { writeAll(fd, $0) } }
        for name in tensors.keys.sorted() where failure == 0 {
            failure = tensors[name]!.storage.withUnsafeBytes { writeAll(fd, $0) }
        }
        guard failure == 0 else {
            throw .io(file: temporary.path, reason: String(cString: strerror(failure)))
        }
        guard fsync(fd) == 0 else {
            throw .io(file: temporary.path, reason: String(cString: strerror(errno)))
        }
        guard close(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            succeeded = true  // fd already closed
            throw .io(file: temporary.path, reason: reason)
        }
        succeeded = true
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw .io(file: url.path, reason: "rename failed: \(reason)")
        }
    }

    /// The JSON header, space-padded so that `8 + count` is a multiple of 8.
    static func headerBytes(_ tensors: [String: Tensor], metadata: [String: String]) -> [UInt8] {
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += "\"__metadata__\":{"
            json += metadata.keys.sorted().map { "\(quoted($0)):\(quoted(metadata[$0]!))" }
                .joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for name in tensors.keys.sorted() {
            let tensor = tensors[name]!
            let end = offset + tensor.count * 4
            if !first { json += "," }
            first = false
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            json += "\(quoted(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],"
            json += "\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        json += "}"
        var bytes = Array(json.utf8)
        while bytes.count % 8 != 0 { bytes.append(0x20) }
        return bytes
    }

    /// `text` as a JSON string literal.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    result += String(format: "\\u%04x", scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// Writes all of `bytes`; returns 0 or the `errno` of the failure.
    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard var pointer = bytes.baseAddress else { return 0 }
        var remaining = bytes.count
        while remaining > 0 {
            let written = Glibc.write(fd, pointer, min(remaining, 1 << 30))
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            remaining -= written
            pointer += written
        }
        return 0
    }
}

import Foundation

/// An append-only JSON-lines log (`train_log.jsonl`): one object per line, keys sorted.
final class JSONLLog {
    enum Value {
        case int(Int)
        case double(Double)
    }

    let url: URL
    private let handle: FileHandle

    init(url: URL) throws {
        self.url = url
        if !FileManager.default.fileExists(atPath: url.path) {
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        }
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    func append(_ record: [String: Value]) throws {
        let fields = record.keys.sorted().map { key -> String in
            let value: String
            switch record[key]! {
            case .int(let v): value = String(v)
            case .double(let v): value = v.isFinite ? "\(v)" : "null"
            }
            return "\"\(key)\":\(value)"
        }
        try handle.write(contentsOf: Data(("{" + fields.joined(separator: ",") + "}\n").utf8))
    }
}

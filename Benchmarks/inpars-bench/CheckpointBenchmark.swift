import ArgumentParser
import Foundation
import InparsModels
import InparsTensor

/// MB/s of loading a t5-base-sized F32 safetensors file, beside memcpy and read(2) of the same bytes.
struct CheckpointBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Safetensors load/write MB/s vs memcpy and read(2) (file in /tmp, removed after)."
    )

    @Option(help: "Approximate file size in MB (t5-base F32 is ~900).") var sizeMB = 900
    @Option(help: "Timed repetitions (the median is reported; files are in the page cache).")
    var repeats = 5
    @Option(help: "Folder for the temporary file.") var directory = "/tmp"

    func run() throws {
        // t5-base-like tensors: [768, 768] attention and [3072, 768] feed-forward blocks.
        var tensors: [String: Tensor] = [:]
        var bytes = 0
        var index = 0
        var value: Float = 0
        while bytes < sizeMB * 1_000_000 {
            let shape = index % 3 == 2 ? [3072, 768] : [768, 768]
            tensors["block.\(index).weight"] = Tensor(shape: shape) { out in
                for i in 0..<out.count { out[i] = value + Float(i & 1023) }
            }
            value += 1
            bytes += shape.reduce(1, *) * 4
            index += 1
        }
        let url = URL(fileURLWithPath: directory)
            .appendingPathComponent("inpars-bench-\(getpid()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let megabytes = Double(bytes) / 1e6

        let write = try median {
            try SafetensorsWriter.write(tensors, to: url, metadata: ["format": "pt"])
        }
        var sink: Float = 0
        let load = try median {
            let loaded = try Checkpoint.loadTensors(file: url)
            sink += loaded["block.0.weight"]!.storage[1]
        }
        let lazy = try median {
            let file = try SafetensorsFile(url: url)
            var kept: [Tensor] = []
            for name in file.names { kept.append(try file.tensor(named: name)) }
            sink += kept[0].storage[0]
        }
        // References: memcpy of every tensor into fresh arrays; read(2) of the file into one.
        let copy = try median {
            var kept: [[Float]] = []
            for tensor in tensors.values {
                let copied = [Float](unsafeUninitializedCapacity: tensor.count) { buffer, count in
                    tensor.storage.withUnsafeBytes { source in
                        UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(
                            from: source.baseAddress!, byteCount: source.count)
                    }
                    count = tensor.count
                }
                kept.append(copied)
            }
            sink += kept[0][0]
        }
        let fileSize = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
        let read = try median {
            let fd = open(url.path, O_RDONLY)
            defer { close(fd) }
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: fileSize, alignment: 64)
            defer { buffer.deallocate() }
            var done = 0
            while done < fileSize {
                let n = Glibc.read(fd, buffer + done, min(fileSize - done, 1 << 30))
                if n <= 0 { break }
                done += n
            }
            sink += buffer.load(fromByteOffset: 4096, as: Float.self)
        }
        // Half-precision files of the same tensors, written by hand (our writer writes F32 only).
        var half: [(String, Double)] = []
        for dtype in ["BF16", "F16"] {
            let halfURL = URL(fileURLWithPath: directory)
                .appendingPathComponent("inpars-bench-\(getpid())-\(dtype).safetensors")
            defer { try? FileManager.default.removeItem(at: halfURL) }
            try writeHalf(tensors, dtype: dtype, to: halfURL)
            half.append(
                (
                    "Checkpoint.loadTensors, \(dtype) → F32 (MB of F32 out)",
                    try median {
                        let loaded = try Checkpoint.loadTensors(file: halfURL)
                        sink += loaded["block.0.weight"]!.storage[1]
                    }
                ))
        }
        if sink.isNaN { print("") }
        print(
            "safetensors F32, \(tensors.count) tensors, \(String(format: "%.0f", megabytes)) MB, page cache warm, median of \(repeats)"
        )
        print("| operation | seconds | MB/s |")
        print("|---|---:|---:|")
        for (name, seconds) in [
            ("Checkpoint.loadTensors (mmap + copy)", load),
            ("SafetensorsFile.tensor(named:) each, all kept", lazy),
            ("reference: memcpy into fresh arrays, all kept", copy),
            ("reference: read(2) into one buffer", read),
            ("SafetensorsWriter.write (incl. fsync)", write),
        ] + half {
            print(
                "| \(name) | \(String(format: "%.3f", seconds)) | \(String(format: "%.0f", megabytes / seconds)) |"
            )
        }
    }

    /// A safetensors file of `tensors` rounded to BF16 (truncated) or F16 (Float16 rounding).
    private func writeHalf(_ tensors: [String: Tensor], dtype: String, to url: URL) throws {
        let names = tensors.keys.sorted()
        var header = "{"
        var offset = 0
        for (i, name) in names.enumerated() {
            let count = tensors[name]!.count
            let shape = tensors[name]!.shape.map(String.init).joined(separator: ",")
            header +=
                (i > 0 ? "," : "")
                + "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + 2 * count)]}"
            offset += 2 * count
        }
        header += "}"
        while (header.utf8.count % 8) != 0 { header += " " }
        var data = Data()
        data.reserveCapacity(8 + header.utf8.count + offset)
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        for name in names {
            let bits = tensors[name]!.storage.map { value -> UInt16 in
                dtype == "BF16" ? UInt16(value.bitPattern >> 16) : Float16(value).bitPattern
            }
            bits.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        try data.write(to: url)
    }

    private func median(_ body: () throws -> Void) throws -> Double {
        var timings: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            timings.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        timings.sort()
        return timings[timings.count / 2]
    }
}

// libFuzzer targets for every parser that reads a user's file. Built only by Scripts/fuzz.sh
// (INPARS_FUZZ=1 adds this target to Package.swift; `-sanitize=fuzzer,address`), never by
// `swift build` or CI. One binary holds every target; INPARS_FUZZ_TARGET picks one.
//
// A target passes the input to the parser the way a command would (most parsers read a file,
// so the input is written to a scratch file first) and ignores thrown errors: only a trap, a
// sanitizer report, a leak, a timeout or an out-of-memory is a finding.

import Foundation
import InparsBM25
import InparsCore
import InparsFilter
import InparsGeneration
import InparsModels
@testable import InparsHub
import InparsTokenizers
import InparsTraining

/// One fuzz target: a name and what it does with an input.
struct FuzzTarget: Sendable {
    let name: String
    let summary: String
    let body: @Sendable (Data) -> Void
}

/// In memory when the machine has /dev/shm.
let scratchRoot =
    FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()

/// A per-process scratch folder for inputs that parsers read from files (removed at exit).
let scratch: URL = {
    let url = URL(fileURLWithPath: scratchRoot).appendingPathComponent("inpars-fuzz-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    atexit {
        let url = URL(fileURLWithPath: scratchRoot)
            .appendingPathComponent("inpars-fuzz-\(getpid())")
        try? FileManager.default.removeItem(at: url)
    }
    return url
}()

/// Writes `data` to `name` in the scratch folder and returns its URL.
func scratchFile(_ name: String, _ data: Data) -> URL {
    let url = scratch.appendingPathComponent(name)
    writeBytes(data, to: url.path)
    return url
}

/// Writes `data` to `path` with stdio (Foundation's atomic write is slow under ASan).
func writeBytes(_ data: Data, to path: String) {
    guard let file = fopen(path, "wb") else { return }
    data.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
}

/// A scratch folder `name` holding `files` (and nothing else).
func scratchFolder(_ name: String, _ files: [String: Data]) -> URL {
    let url = scratch.appendingPathComponent(name)
    try? FileManager.default.removeItem(at: url)
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    for (file, data) in files {
        writeBytes(data, to: url.appendingPathComponent(file).path)
    }
    return url
}

let targets: [FuzzTarget] = [
    FuzzTarget(name: "corpus-jsonl", summary: "BEIR corpus.jsonl (CorpusReader)") { data in
        let url = scratchFile("corpus.jsonl", data)
        _ = try? CorpusReader.read(url, options: ReadOptions(skipBadLines: data.first == 0x20))
    },
    FuzzTarget(name: "queries", summary: "queries.jsonl and queries.tsv (QueryReader)") { data in
        _ = try? QueryReader.read(scratchFile("queries.jsonl", data))
        _ = try? QueryReader.read(scratchFile("queries.tsv", data))
    },
    FuzzTarget(name: "tsv", summary: "TSV corpus, training triples and pairs") { data in
        _ = try? CorpusReader.read(scratchFile("corpus.tsv", data))
        let url = scratchFile("train.tsv", data)
        _ = try? TrainingData.read(url, kind: .triples, skipBadLines: true)
        _ = try? TrainingData.read(url, kind: .pairs)
    },
    FuzzTarget(name: "trec-run", summary: "TREC run (Run.read)") { data in
        _ = try? Run.read(scratchFile("run.trec", data))
    },
    FuzzTarget(name: "qrels", summary: "qrels, BEIR TSV or TREC (Qrels.read)") { data in
        _ = try? Qrels.read(scratchFile("qrels.tsv", data))
    },
    FuzzTarget(name: "gzip", summary: "gzip through zlib (LineReader)") { data in
        guard let reader = try? LineReader(url: scratchFile("input.gz", data), bufferSize: 4096)
        else { return }
        _ = try? reader.forEachLine { bytes, _ in _ = reader.string(from: bytes) }
    },
    FuzzTarget(name: "synthetic-queries", summary: "generate output / InPars files") { data in
        _ = try? SyntheticQueryReader.read(scratchFile("queries.jsonl", data))
        _ = try? FewShotExample.read(scratchFile("examples.jsonl", data))
    },
    FuzzTarget(name: "safetensors", summary: "safetensors header and tensors") { data in
        let url = scratchFile("model.safetensors", data)
        guard let reader = try? CheckpointReader(file: url) else { return }
        _ = try? reader.allTensors()
    },
    FuzzTarget(name: "torch-bin", summary: "PyTorch .bin: zip reader and pickle subset") { data in
        let url = scratchFile("pytorch_model.bin", data)
        guard let reader = try? CheckpointReader(file: url) else { return }
        _ = try? reader.allTensors()
    },
    FuzzTarget(name: "zip", summary: "zip reader with deflate (BEIR archives, torch.save)") {
        data in
        let url = scratchFile("archive.zip", data)
        guard let file = try? MappedFile(path: url.path), let archive = try? ZipArchive(file: file)
        else { return }
        for name in archive.names.prefix(16) { _ = try? archive.contents(of: name) }
    },
    FuzzTarget(name: "shard-index", summary: "*.index.json of sharded weights (hub, checkpoints)") {
        data in
        let url = scratchFile("model.safetensors.index.json", data)
        _ = try? LocalPlan.shards(of: url)
        _ = try? CheckpointReader(file: url)
    },
    FuzzTarget(name: "spiece", summary: "SentencePiece ModelProto (spiece.model)") { data in
        let url = scratchFile("spiece.model", data)
        for compatibility in [SentencePieceTokenizer.Compatibility.sentencePiece, .huggingFace] {
            guard
                let tokenizer = try? SentencePieceTokenizer(
                    modelFile: url, compatibility: compatibility, extraIDs: 3)
            else { continue }
            let ids = tokenizer.encode("Hello wörld, 12 <extra_id_0> \u{3000}x")
            _ = tokenizer.decode(ids)
        }
    },
    FuzzTarget(name: "tokenizer-json", summary: "Hugging Face tokenizer.json") { data in
        let url = scratchFile("tokenizer.json", data)
        guard let tokenizer = try? SentencePieceTokenizer(tokenizerJSON: url) else { return }
        let ids = tokenizer.encode("Hello wörld, 12 <extra_id_0> \u{3000}x")
        _ = tokenizer.decode(ids)
    },
    FuzzTarget(name: "bm25-index", summary: "our BM25 index file (BM25Index.open + search)") {
        data in
        let folder = scratchFolder("index", ["index.bin": data])
        guard let index = try? BM25Index.open(folder) else { return }
        _ = index.search("the first query words", k: 5)
    },
    FuzzTarget(name: "openai-response", summary: "OpenAI completion and chat bodies") { data in
        _ = try? OpenAIResponse.parseCompletion(data, url: "http://fuzz/v1/completions")
        _ = try? OpenAIResponse.parseChat(data, url: "http://fuzz/v1/chat/completions")
    },
    FuzzTarget(name: "prompt-template", summary: "a --prompt template file") { data in
        let url = scratchFile("prompt.txt", data)
        _ = try? PromptTemplate.load(url.path, dynamic: false)
        _ = try? PromptTemplate.load(url.path, dynamic: true)
    },
]

nonisolated(unsafe) var selected: FuzzTarget?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
) -> CInt {
    let name = ProcessInfo.processInfo.environment["INPARS_FUZZ_TARGET"] ?? ""
    guard let target = targets.first(where: { $0.name == name }) else {
        var text = "set INPARS_FUZZ_TARGET to one of:\n"
        for target in targets { text += "  \(target.name): \(target.summary)\n" }
        FileHandle.standardError.write(Data(text.utf8))
        exit(2)
    }
    selected = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let bytes else {
        selected!.body(Data())
        return 0
    }
    selected!.body(Data(bytes: bytes, count: count))
    return 0
}

// SwiftPM links an executable target with `--defsym main=<module>_main`, so libFuzzer's own
// `main` is never pulled in; this entry point hands control to libFuzzer's driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("inpars_fuzz_main")
public func fuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    var count = argc
    var arguments = argv
    // The driver calls LLVMFuzzerInitialize itself.
    return runFuzzerDriver(&count, &arguments) { bytes, size in
        fuzzTestOneInput(bytes, size)
    }
}

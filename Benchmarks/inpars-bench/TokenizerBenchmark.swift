import ArgumentParser
import Foundation
import InparsTokenizers

/// Sentences/s of the SentencePiece tokenizer on SciFact sentences, in both compatibility modes.
///
/// The reference (HF tokenizers and sentencepiece on the same sentences) is measured with the
/// Python one-liner in Docs/tokenizer.md, in the same session.
struct TokenizerBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer", abstract: "Encoding throughput of the T5 SentencePiece tokenizer."
    )

    @Option(help: "Folder with tokenizer.json and spiece.model.")
    var tokenizer = "Tests/Fixtures/t5-tokenizer"
    @Option(help: "BEIR corpus.jsonl whose texts are split into sentences on '. '.")
    var corpus = "../shared/data/scifact/corpus.jsonl"
    @Option(help: "Number of sentences.") var sentences = 10_000
    @Option(help: "Timed repetitions; the median is reported.") var repeats = 5

    func run() throws {
        let texts = try loadSentences()
        let folder = URL(fileURLWithPath: tokenizer)
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let json = try SentencePieceTokenizer(
            tokenizerJSON: folder.appendingPathComponent("tokenizer.json"))
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
        let spm = try SentencePieceTokenizer(
            modelFile: folder.appendingPathComponent("spiece.model"))
        let characters = texts.reduce(0) { $0 + $1.utf8.count }
        print(
            "sentences: \(texts.count), UTF-8 bytes: \(characters), vocabulary: \(json.vocabularySize)"
        )
        print("tokenizer.json load: \(String(format: "%.1f", loadSeconds * 1000)) ms")
        print("| mode | sentences/s | tokens/s | µs/sentence | tokens |")
        print("|---|---:|---:|---:|---:|")
        for (name, tokenizer) in [
            ("HF (tokenizer.json)", json), ("sentencepiece (spiece.model)", spm),
        ] {
            var timings: [Double] = []
            var tokens = 0
            for _ in 0...repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                tokens = encodeAll(tokenizer, texts)
                timings.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            let seconds = timings.dropFirst().sorted()[repeats / 2]
            print(
                "| \(name) | \(Int(Double(texts.count) / seconds)) | \(Int(Double(tokens) / seconds)) | "
                    + "\(String(format: "%.2f", seconds * 1e6 / Double(texts.count))) | \(tokens) |"
            )
        }
    }

    @inline(never)
    private func encodeAll(_ tokenizer: SentencePieceTokenizer, _ texts: [String]) -> Int {
        var total = 0
        for text in texts { total += tokenizer.encode(text).count }
        return total
    }

    private func loadSentences() throws -> [String] {
        let data = try String(contentsOfFile: corpus, encoding: .utf8)
        var result: [String] = []
        for line in data.split(separator: "\n") where result.count < sentences {
            guard
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
                    as? [String: Any],
                let text = object["text"] as? String
            else { continue }
            for sentence in text.components(separatedBy: ". ")
            where !sentence.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                result.append(sentence)
                if result.count == sentences { break }
            }
        }
        return result
    }
}

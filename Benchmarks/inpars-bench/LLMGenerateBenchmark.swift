import ArgumentParser
import Foundation
import InparsGeneration
import InparsModels
import InparsTensor

/// In-process few-shot query generation with a decoder-only LM (documents/s, peak memory), on
/// random fp32 weights made in memory in a real model's shape: the InPars workload of a shared
/// few-shot prefix (computed once, forked per document), each document's tokens, then greedy
/// new tokens with continuous batching. The reference is `Scripts/bench/ref_llm_generate.py`
/// (transformers `generate`, the same shapes and token counts), run in the same session.
struct LLMGenerateBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llm-generate",
        abstract: "Causal-LM generation documents/s (Qwen2.5-0.5B or Llama-3.2-1B shape, random weights, greedy).")

    @Option(help: "qwen2.5-0.5b or llama-3.2-1b.") var shape = "qwen2.5-0.5b"
    @Option(help: "OpenBLAS threads.") var threads = 2
    @Option(help: "Shared few-shot prefix tokens.") var prefixLength = 600
    @Option(help: "Document tokens per prompt.") var documentLength = 256
    @Option(help: "Tokens generated per document (no EOS, so exactly this many).")
    var newTokens = 32
    @Option(help: "Sequences decoded together (default: generate's for decoder-only LMs).")
    var batch = CausalLMBackend.defaultBatchSize
    @Option(help: "Timed documents.") var documents = 64
    @Option(help: "fp32, bf16 or int8: the linear layers' number format (converted at build).")
    var precision = "fp32"
    @Flag(help: "Keep the LM head in fp32 at bf16/int8 (the measurement behind converting it).")
    var fp32Head = false
    @Flag(help: "At fp32, multiply through OpenBLAS instead of oneDNN-packed fp32 weights (the measurement behind packing).")
    var blasFP32 = false
    @Flag(help: "Also time the document prefill alone (a second pass with one new token).")
    var breakdown = false
    @Flag(help: "Time the parts of the timed run's decoding steps (forward, LM head, token pick; every product by shape and row count), with no second pass.")
    var stepProfile = false

    static let shapeNames = ["llama-3.2-1b", "qwen2.5-0.5b"]

    /// `config.json` fields of a real model's shape.
    static func shape(_ name: String) -> [String: Any]? {
        [
        "qwen2.5-0.5b": [
            "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896,
            "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
            "num_key_value_heads": 2, "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
            "rope_theta": 1_000_000.0, "tie_word_embeddings": true,
        ],
        "llama-3.2-1b": [
            "model_type": "llama", "vocab_size": 128256, "hidden_size": 2048,
            "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
            "num_key_value_heads": 8, "max_position_embeddings": 131072, "rms_norm_eps": 1e-5,
            "rope_theta": 500000.0, "tie_word_embeddings": true,
            "rope_scaling": [
                "rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192,
            ],
        ],
        ][name]
    }

    func run() throws {
        BLAS.threads = threads
        let env = ProcessInfo.processInfo.environment
        print(
            "OpenBLAS core: \(BLAS.coreName); OPENBLAS_CORETYPE=\(env["OPENBLAS_CORETYPE"] ?? "(unset)") OPENBLAS_L2_SIZE=\(env["OPENBLAS_L2_SIZE"] ?? "(unset)") threads=\(threads)"
        )
        guard let json = Self.shape(shape) else {
            throw ValidationError("--shape must be one of \(Self.shapeNames)")
        }
        guard let precision = Precision(rawValue: precision) else {
            throw ValidationError("--precision must be fp32, bf16 or int8")
        }
        print("oneDNN \(DNNLInfo.version) ISA \(DNNLInfo.effectiveISA); precision \(precision.rawValue)\(precision == .fp32 && blasFP32 ? " on OpenBLAS" : "")\(fp32Head ? ", fp32 head" : "")")
        let configuration = try CausalLMConfiguration(json: json, path: shape)
        var random = BenchRandom(seed: 5)
        // Built one tensor at a time and converted as it loads, as `CausalLM.load` does.
        let slots = CausalLM.convertibleSlots(configuration)
        let tied = configuration.tieWordEmbeddings
        let head: Set<Int> = fp32Head ? [] : [slots.head]
        let store = ParameterStore(
            table: CausalLM.parameterTable(configuration), precision: precision,
            linearSlots: tied ? slots.layers : slots.layers.union(head),
            keepingFP32: tied ? head : [], packingFP32: !blasFP32,
            loading: { entry in
                let isNorm = entry.shape.count == 1
                return Tensor(shape: entry.shape, uninitialized: { values in
                    for i in values.indices { values[i] = isNorm ? 1 : 0.035 * random.uniform() }
                })
            })
        let model = CausalLM(configuration: configuration, parameters: store)
        print(String(format: "weights held: %.0f MB", Double(store.weightBytes) / 1e6))
        let vocab = UInt64(configuration.vocabSize - 1000)
        let prefixIDs = (0..<prefixLength).map { _ in Int32(500 + random.next() % vocab) }
        let prompts = (0..<(documents + batch)).map { _ in
            prefixIDs + (0..<documentLength).map { _ in Int32(500 + random.next() % vocab) }
        }
        func requests(_ slice: ArraySlice<[Int32]>, new: Int) -> [CausalLMRequest] {
            slice.map { CausalLMRequest(ids: $0, maxNewTokens: new) }
        }
        var start = DispatchTime.now().uptimeNanoseconds
        func lap() -> Double {
            let now = DispatchTime.now().uptimeNanoseconds
            defer { start = now }
            return Double(now - start) / 1e9
        }
        let prefix = model.sharedPrefix(prefixIDs)
        let prefixSeconds = lap()
        _ = model.generate(requests(prompts.prefix(batch), new: newTokens), batchSize: batch, prefix: prefix)
        _ = lap()  // warm-up
        let timed = prompts.suffix(documents)
        StepProfile.reset()
        StepProfile.isEnabled = breakdown || stepProfile
        let out = model.generate(requests(timed, new: newTokens), batchSize: batch, prefix: prefix)
        let seconds = lap()
        StepProfile.isEnabled = false
        let steps = StepProfile.totals
        let runAttention = StepProfile.section(StepProfile.Name.attention)
        let tokens = out.reduce(0) { $0 + $1.ids.count }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(
            "inpars llm-generate \(shape): documents=\(documents) prefix=\(prefixLength) document=\(documentLength) new=\(newTokens) batch=\(batch): "
                + String(
                    format: "%.3f documents/s (%.2f s, %d tokens generated; prefix once %.2f s; peak RSS %.0f MB)",
                    Double(documents) / seconds, seconds, tokens, prefixSeconds,
                    Double(usage.ru_maxrss) / 1024))
        if stepProfile { Self.printSteps(steps) }
        if breakdown {
            try phases(
                model: model, prompts: Array(timed), prefix: prefix, total: seconds, tokens: tokens,
                runAttention: runAttention)
        }
    }

    /// The ``StepProfile`` sections of few-row products and decoding steps, per step (`step
    /// forward` counts the steps) and per call; the few-row products include the LM head of
    /// each admitted group's first token. Long products (the document prefill's) are left out.
    static func printSteps(_ sections: [String: StepProfile.Section]) {
        let steps = Double(max(1, sections["step forward"]?.calls ?? 1))
        print("decoding steps (\(Int(steps))): wall ms a step, CPU ms a step (both threads), calls")
        for (name, value) in sections.sorted(by: { $0.key < $1.key })
        where !name.hasPrefix("long") && !name.hasPrefix(StepProfile.Name.attention) {
            print(
                String(
                    format: "  %@: %.2f wall, %.2f CPU, %d calls", name,
                    value.seconds / steps * 1000, value.cpuSeconds / steps * 1000, value.calls))
        }
    }

    /// Prefill alone (one new token) with GEMM accounting, the decode steps as the rest, and
    /// the bytes a decode step must read against a measured copy bandwidth; attention
    /// (``StepProfile/Name/attention``) in the prefill and, from `runAttention` (the timed
    /// run), in the decode steps.
    private func phases(
        model: CausalLM, prompts: [[Int32]], prefix: SharedPrefix, total: Double, tokens: Int,
        runAttention: StepProfile.Section
    ) throws {
        BLAS.Profile.reset()
        BLAS.Profile.isEnabled = true
        StepProfile.reset()
        StepProfile.isEnabled = true
        defer { StepProfile.isEnabled = false }
        let start = DispatchTime.now().uptimeNanoseconds
        _ = model.generate(
            prompts.map { CausalLMRequest(ids: $0, maxNewTokens: 1) }, batchSize: batch,
            prefix: prefix)
        let prefill = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        BLAS.Profile.isEnabled = false
        let gemm = BLAS.Profile.totals
        StepProfile.isEnabled = false
        let prefillAttention = StepProfile.section(StepProfile.Name.attention)
        let decodeAttentionSeconds = runAttention.seconds - prefillAttention.seconds
        let decodeAttentionFlops = runAttention.operations - prefillAttention.operations
        print(
            String(
                format:
                    "attention: document prefill %.2f s at %.1f GFLOP/s; decode steps %.2f s at %.1f GFLOP/s (wall time of the attention calls, useful flops over visible keys)",
                prefillAttention.seconds, prefillAttention.gflops,
                decodeAttentionSeconds, decodeAttentionFlops / max(decodeAttentionSeconds, 1e-9) / 1e9))
        let steps = Double(tokens - prompts.count) / Double(batch)
        let stepSeconds = (total - prefill) / max(steps, 1)
        // Bytes a step reads: every layer weight and the head once (the fp32 copy a tied
        // embedding keeps beside a bf16/int8 head is looked up by row only; a packed fp32 head
        // is its own lookup).
        let c = model.configuration
        let lookup =
            c.tieWordEmbeddings && model.precision != .fp32 && !fp32Head
            ? c.vocabSize * c.hiddenSize * 4 : 0
        let weightBytes = Double(model.parameters.weightBytes - lookup)
        // Copy bandwidth: 256 MB copied 4 times (read + write per byte).
        let count = 64 << 20
        let source = [Float](repeating: 1, count: count)
        var target = [Float](repeating: 0, count: count)
        let copyStart = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<4 {
            source.withUnsafeBufferPointer { s in
                target.withUnsafeMutableBufferPointer { t in
                    t.baseAddress!.update(from: s.baseAddress!, count: count)
                }
            }
        }
        let copySeconds = Double(DispatchTime.now().uptimeNanoseconds - copyStart) / 1e9
        let bandwidth = Double(count * 4 * 2 * 4) / copySeconds / 1e9
        print(
            String(
                format:
                    "by phase: document prefill (fork + %d tokens + first pick) %.2f s, of which OpenBLAS sgemm (the linear layers with --blas-fp32; attention runs its own kernel, above) %.2f s at %.1f GFLOP/s (%d calls); decode %.2f s = %.0f steps of %d rows at %.3f s, reading %.2f GB of weights per step = %.1f GB/s (memcpy here: %.1f GB/s read+write)",
                documentLength, prefill, gemm.seconds, gemm.flops / max(gemm.seconds, 1e-9) / 1e9,
                gemm.calls, total - prefill, steps, batch, stepSeconds, weightBytes / 1e9,
                weightBytes / stepSeconds / 1e9, bandwidth))
        _ = target[count - 1]
    }
}

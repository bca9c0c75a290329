import Foundation
import InparsTensor

extension CausalLM {
    /// Loads a Hugging Face causal-LM folder: `config.json` plus the weights
    /// (`model.safetensors` or sharded safetensors, or `pytorch_model.bin`; see ``Checkpoint``),
    /// converted to fp32 whatever their stored type (bf16, f16, f32).
    ///
    /// The linear layers (``convertibleSlots(_:)``) are converted one tensor at a time as they
    /// are read, so the fp32 model is never held whole: to `precision`, or at fp32 packed for
    /// oneDNN's fp32 matmul (``InparsTensor/LinearWeight/packedForInference()``: OpenBLAS would
    /// pack every weight again at each decoding step, which costs as much as the product).
    ///
    /// A tied head (`tie_word_embeddings`) reads the embedding; a `lm_head.weight` stored
    /// anyway is ignored. Tensors the table does not name (e.g. old `rotary_emb.inv_freq`
    /// buffers) are ignored.
    ///
    /// - Throws: ``ModelError/unsupportedPrecision(precision:isa:)`` when oneDNN has no kernel
    ///   for `precision` on this CPU; ``ModelError`` for the configuration and for missing or
    ///   mis-shaped tensors (naming both files); ``CheckpointError`` for unreadable or
    ///   truncated weight files.
    public static func load(directory: URL, precision: Precision = .fp32) throws -> CausalLM {
        try ModelError.requireSupported(precision, packingFP32: true)
        let configuration = try CausalLMConfiguration.load(directory: directory)
        let reader = try CheckpointReader(directory: directory)
        let table = parameterTable(configuration)
        let mismatch = { (problem: String) in
            ModelError.checkpointMismatch(
                weights: Checkpoint.weightsFile(directory: directory)?.path ?? directory.path,
                configuration: directory.appendingPathComponent("config.json").path,
                problem: problem)
        }
        // Every entry is checked before anything is read or converted, so the first missing or
        // mis-shaped tensor in table order is the one reported.
        for entry in table.entries {
            guard let actual = reader.shape(of: entry.name) else {
                throw mismatch("the checkpoint has no tensor '\(entry.name)', which this configuration needs")
            }
            guard actual == entry.shape else {
                throw mismatch("tensor '\(entry.name)' has shape \(actual) but the configuration needs \(entry.shape)")
            }
        }
        let slots = convertibleSlots(configuration)
        let tied = configuration.tieWordEmbeddings
        let store = try ParameterStore(
            table: table, precision: precision,
            linearSlots: tied ? slots.layers : slots.layers.union([slots.head]),
            keepingFP32: tied ? [slots.head] : [], packingFP32: true,
            loading: { try reader.tensor(named: $0.name) })
        return CausalLM(configuration: configuration, parameters: store)
    }

    /// The slots a bf16/int8 model converts: in every layer the fused q/k/v projection, the
    /// output projection, the fused gate/up projection and the down projection (`layers`), and
    /// the LM head (`head`; with a tied head it is the embedding's slot, whose fp32 values are
    /// kept for the lookup: ``ParameterStore/init(table:precision:linearSlots:keepingFP32:loading:)``).
    ///
    /// The head is converted as well: it is a quarter of Qwen2.5-0.5B's weights and read whole
    /// at every decoding step, and its int8 logits move the generated tokens' log-probabilities
    /// by less than the layers do (`Docs/performance.md`, "bf16 and int8 (issue 13)").
    /// Kept in fp32: norms, biases, the embedding lookup, attention scores and the KV cache.
    public static func convertibleSlots(_ configuration: CausalLMConfiguration) -> (
        layers: Set<Int>, head: Int
    ) {
        let built = architecture(configuration)
        var layers = Set<Int>()
        for layer in built.layers {
            layers.formUnion([layer.attention.queryKeyValue, layer.attention.output])
            layers.formUnion([layer.feedForward.gateUp, layer.feedForward.down])
        }
        return (layers, built.lmHead)
    }

    /// The number format of the linear layers (``Precision``); `.fp32` unless converted.
    public var precision: Precision { parameters.precision }
}

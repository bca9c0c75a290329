/// A model architecture inpars runs, as `config.json` names it.
///
/// Each case is one entry of the registry: the `model_type` values and `architectures` class
/// names that identify it, and a line for messages. Adding a family is one case here plus one
/// case in each loader that switches over the family (the compiler lists them):
/// `RelevanceScorers.load` (InparsRanker), `InProcessGeneration.load` (InparsGeneration) and
/// `TrainCommand` (which trainer). A family that cannot do a loader's task (a decoder-only
/// generator asked to score) gets a case there that throws a `ModelError` naming the task.
public enum ModelFamily: String, CaseIterable, Sendable {
    /// T5 encoder-decoders: T5 v1.0, T5 v1.1, FLAN-T5 and mT5 (the same architecture with a
    /// 250k vocabulary), fine-tuned as monoT5 rerankers or doc2query generators.
    case t5
    /// BERT-style encoders with a sequence-classification head, the cross-encoder rerankers:
    /// BERT and MiniLM, ELECTRA discriminators, RoBERTa and XLM-RoBERTa (bge-reranker).
    case bert
    /// Llama-style decoder-only language models (Llama 2/3, TinyLlama, SmolLM, Mistral,
    /// Qwen2/2.5, Qwen3), run in process by `generate`; they neither score pairs nor train.
    case causalLM

    /// `config.json` `model_type` values of this family.
    public var modelTypes: [String] {
        switch self {
        case .t5: return ["t5", "mt5"]
        case .bert: return ["bert", "electra", "roberta", "xlm-roberta"]
        case .causalLM: return ["llama", "mistral", "qwen2", "qwen3"]
        }
    }

    /// `config.json` `architectures` class names that identify this family when `model_type`
    /// is absent.
    public var architectures: [String] {
        switch self {
        case .t5:
            return [
                "T5ForConditionalGeneration", "T5Model", "MT5ForConditionalGeneration", "MT5Model",
            ]
        case .bert:
            return [
                "BertForSequenceClassification", "ElectraForSequenceClassification",
                "RobertaForSequenceClassification", "XLMRobertaForSequenceClassification",
            ]
        case .causalLM:
            return [
                "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM",
            ]
        }
    }

    /// For messages and docs, e.g. "t5, mt5 (T5 encoder-decoder)".
    public var summary: String {
        switch self {
        case .t5: return "t5, mt5 (T5 encoder-decoder: monoT5, FLAN-T5, mT5, doc2query)"
        case .bert:
            return
                "bert, electra, roberta, xlm-roberta (cross-encoders: BERT, MiniLM, ELECTRA, XLM-R, bge-reranker)"
        case .causalLM:
            return
                "llama, mistral, qwen2, qwen3 (decoder-only LMs for generate: Llama 2/3, TinyLlama, SmolLM, Mistral, Qwen2/2.5/3)"
        }
    }
}

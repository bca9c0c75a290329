import Foundation
import InparsCore

extension Checkpoint {
    /// The files of a model folder inpars writes: weights, config, tokenizer files, and the
    /// trainer's state, log and optimizer state in `checkpoint-<step>` folders.
    public static let modelFolderFiles: Set<String> = [
        "model.safetensors", "config.json", "generation_config.json", "spiece.model",
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
        "trainer_state.json", "train_log.jsonl", "optimizer.safetensors", "vocab.txt",
        "sentencepiece.bpe.model",
    ]

    /// What a model-folder writer may replace: a folder holding only ``modelFolderFiles`` and
    /// `extra` names (a downloaded model with a README, say, is not ours).
    public static func modelFolderKind(extra: Set<String> = []) -> OutputKind {
        .directory("a model folder written by inpars", entries: modelFolderFiles.union(extra))
    }
}

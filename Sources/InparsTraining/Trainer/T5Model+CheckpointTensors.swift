import InparsModels
import InparsTensor

extension T5Model {
    /// The weights as a Hugging Face state dict: one tensor per checkpoint name
    /// (``checkpointParameters``), unfused (`q`, `k`, `v`, `wi_0`, `wi_1` separate), the tied
    /// embedding once as `shared.weight`, as `save_pretrained` writes them.
    public var checkpointTensors: [String: Tensor] {
        var tensors = [String: Tensor]()
        for parameter in checkpointParameters {
            let storage = self[keyPath: parameter.path].storage
            let range = parameter.offset..<(parameter.offset + parameter.count)
            tensors[parameter.name] = Tensor(shape: parameter.shape, storage: Array(storage[range]))
        }
        return tensors
    }
}

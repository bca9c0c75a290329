import Foundation
import InparsCore

/// Where a run stands, saved as `trainer_state.json` in every checkpoint folder.
///
/// With the optimizer state (`optimizer.safetensors`) and the weights this is everything a
/// resumed run needs: data order is a function of `seed` and `position`
/// (``TrainingStream``), and step `n`'s dropout masks are a function of `seed` and `n`, so no
/// generator state beyond these integers exists.
public struct TrainerState: Codable, Sendable, Equatable {
    /// Optimizer steps completed.
    public var step: Int
    /// The run's planned optimizer steps.
    public var totalSteps: Int
    /// Training units consumed (the data position).
    public var position: Int
    /// The epoch of the next unit (0-based; `position / unitCount`).
    public var epoch: Int
    /// Examples trained on so far.
    public var examplesSeen: Int
    public var seed: UInt64
    /// How the random streams derive from `seed` (documentation for readers of the file).
    public var randomState: String
    public var optimizer: String
    public var dataKind: String
    public var unitCount: Int
    public var unitsPerStep: Int
    /// The best eval nDCG@10 so far and its step (`--keep-best`).
    public var bestMetric: Double?
    public var bestStep: Int?
    /// The last logged training loss.
    public var lastLoss: Float?
    /// The options that shape the result (`--lr`, `--schedule`, …, and a fingerprint of the
    /// training data), compared on resume; absent in checkpoints of older versions.
    public var settings: [String: String]?

    enum CodingKeys: String, CodingKey {
        case step, epoch, seed, optimizer
        case totalSteps = "total_steps"
        case position = "data_position"
        case examplesSeen = "examples_seen"
        case randomState = "random_state"
        case dataKind = "data_kind"
        case unitCount = "unit_count"
        case unitsPerStep = "units_per_step"
        case bestMetric = "best_ndcg@10"
        case bestStep = "best_step"
        case lastLoss = "last_loss"
        case settings
    }

    static let fileName = "trainer_state.json"

    func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(self)) ?? Data()
    }

    /// Reads `trainer_state.json` from a checkpoint folder.
    ///
    /// - Throws: ``TrainingError/invalidTrainerState(path:reason:)``.
    public static func read(directory: URL) throws -> TrainerState {
        let url = directory.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TrainingError.invalidTrainerState(path: url.path, reason: "no such file")
        }
        do {
            return try JSONDecoder().decode(TrainerState.self, from: data)
        } catch {
            throw TrainingError.invalidTrainerState(path: url.path, reason: plainDescription(of: error))
        }
    }
}

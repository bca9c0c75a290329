import Foundation

/// A Hugging Face model folder whose family the registry recognised.
public struct ModelFolder: Sendable, Equatable {
    /// The folder.
    public let directory: URL
    /// `config.json`'s `model_type`, when present.
    public let modelType: String?
    /// `config.json`'s `architectures` (empty when absent).
    public let architectures: [String]
    /// The family that runs it.
    public let family: ModelFamily
}

/// Decides a model folder's family from `config.json`'s `model_type` (or, when that is absent,
/// its `architectures`), so that `--model DIR` alone picks the code that runs it.
public enum ModelRegistry {
    /// Every family, in the order messages list them.
    public static let families = ModelFamily.allCases

    /// The `model_type` values inpars runs, e.g. "t5, mt5".
    public static var supportedModelTypes: String {
        families.flatMap(\.modelTypes).joined(separator: ", ")
    }

    /// The family of a `model_type`, or else of the first recognised `architectures` entry.
    public static func family(modelType: String?, architectures: [String]) -> ModelFamily? {
        if let modelType {
            return families.first { $0.modelTypes.contains(modelType) }
        }
        return families.first { family in
            architectures.contains { family.architectures.contains($0) }
        }
    }

    /// Reads `directory/config.json` and recognises the family.
    ///
    /// - Throws: ``ModelError/notAModelFolder(path:)`` when `directory` is not a folder,
    ///   ``ModelError/configurationNotFound(path:)``, ``ModelError/invalidConfiguration(path:reason:)``
    ///   for a file that is not a JSON object (or whose `model_type` / `architectures` have the
    ///   wrong type), ``ModelError/unsupportedModelType(directory:modelType:architectures:)``
    ///   for a family inpars does not run, listing those it does.
    public static func resolve(directory: URL) throws -> ModelFolder {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
            isDirectory.boolValue
        else { throw ModelError.notAModelFolder(path: directory.path) }
        let url = directory.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelError.configurationNotFound(path: url.path)
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError.invalidConfiguration(path: url.path, reason: "not a JSON object")
        }
        let modelType = object["model_type"]
        guard modelType == nil || modelType is String else {
            throw ModelError.invalidConfiguration(
                path: url.path, reason: "field 'model_type' is not a string")
        }
        let architectures = object["architectures"]
        guard architectures == nil || architectures is [String] else {
            throw ModelError.invalidConfiguration(
                path: url.path, reason: "field 'architectures' is not a list of strings")
        }
        let type = modelType as? String
        let classes = architectures as? [String] ?? []
        guard let family = family(modelType: type, architectures: classes) else {
            throw ModelError.unsupportedModelType(
                directory: directory.path, modelType: type, architectures: classes)
        }
        return ModelFolder(
            directory: directory, modelType: type, architectures: classes, family: family)
    }
}

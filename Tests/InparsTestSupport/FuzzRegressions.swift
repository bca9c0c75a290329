import Foundation

/// The crashing inputs the fuzzers found (`Scripts/fuzz.sh`), minimised and committed under
/// `Tests/Fixtures/fuzz/<target>/`; each module's tests replay the files of its targets.
public enum FuzzRegressions {
    /// The committed inputs of `target`, sorted by name (empty when there are none).
    public static func inputs(_ target: String) throws -> [(name: String, bytes: Data)] {
        let folder = TestPaths.fixtures.appendingPathComponent("fuzz/\(target)")
        guard FileManager.default.fileExists(atPath: folder.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map {
            ($0, try Data(contentsOf: folder.appendingPathComponent($0)))
        }
    }
}

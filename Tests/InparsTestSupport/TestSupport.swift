import Foundation

/// Paths to shared test data.
public enum TestPaths {
    /// `Tests/` in the source tree.
    public static let testsDirectory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()

    /// `Tests/Fixtures`: committed fixtures made by `Scripts/fixtures/` (see its README).
    public static let fixtures: URL = testsDirectory.appendingPathComponent("Fixtures")

    /// The repository root.
    public static let repositoryRoot: URL = testsDirectory.deletingLastPathComponent()

    /// `../shared/data/<name>` beside the repository, when present (SciFact and friends).
    public static func sharedData(_ name: String) -> URL? {
        let url = repositoryRoot.deletingLastPathComponent()
            .appendingPathComponent("shared/data/\(name)")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// A fresh, empty temporary directory (removed by the caller or at reboot).
    public static func temporaryDirectory(_ label: String = "inpars-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// The largest absolute difference between two float arrays, and where it occurs.
public struct Discrepancy: CustomStringConvertible, Sendable {
    public var maxAbsolute: Float
    public var index: Int
    public var expected: Float
    public var actual: Float

    public var description: String {
        "max |Δ| = \(maxAbsolute) at index \(index) (expected \(expected), got \(actual))"
    }
}

/// Compares `actual` with `expected` element-wise. `nil` when the counts differ.
///
/// An element passes when `|a − e| ≤ atol + rtol·|e|`; the result reports the worst
/// element so a failure says where.
public func compare(
    _ actual: [Float], _ expected: [Float], rtol: Float = 0, atol: Float
) -> (passes: Bool, worst: Discrepancy)? {
    guard actual.count == expected.count else { return nil }
    var worst = Discrepancy(maxAbsolute: 0, index: -1, expected: 0, actual: 0)
    var passes = true
    var worstExcess = -Float.infinity
    for i in 0..<actual.count {
        let difference = abs(actual[i] - expected[i])
        let excess = difference - (atol + rtol * abs(expected[i]))
        if difference.isNaN || excess > 0 { passes = false }
        if difference.isNaN || excess > worstExcess || worst.index < 0 {
            worstExcess = difference.isNaN ? .infinity : excess
            worst = Discrepancy(
                maxAbsolute: difference, index: i, expected: expected[i], actual: actual[i])
        }
    }
    return (passes, worst)
}

/// A small seedable generator (SplitMix64) for reproducible random test inputs.
public struct TestRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` floats uniform in `range`.
    public mutating func floats(_ count: Int, in range: ClosedRange<Float> = -1...1) -> [Float] {
        (0..<count).map { _ in Float.random(in: range, using: &self) }
    }
}

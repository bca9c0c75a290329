import Foundation
import InparsCore

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
    /// Also looks further up (a git worktree such as `/work/wt/<name>` sits one level deeper).
    public static func sharedData(_ name: String) -> URL? {
        var base = repositoryRoot.deletingLastPathComponent()
        for _ in 0..<3 {
            let url = base.appendingPathComponent("shared/data/\(name)")
            if FileManager.default.fileExists(atPath: url.path) { return url }
            base = base.deletingLastPathComponent()
        }
        return nil
    }

    /// A fresh, empty temporary directory inside ``temporaryRoot`` (removed with it when the
    /// test process exits, even when the test itself does not remove it).
    public static func temporaryDirectory(_ label: String = "inpars-test") throws -> URL {
        let url = temporaryRoot.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// `<tmp>/inpars-tests-<pid>`: every temporary directory of this test process. It is
    /// removed when the process exits; roots left by processes that died (a crash, a kill)
    /// are removed the first time a later test process asks for a directory.
    public static let temporaryRoot: URL = {
        let base = FileManager.default.temporaryDirectory
        removeStaleTemporaryRoots(in: base)
        let root = base.appendingPathComponent("\(temporaryRootPrefix)\(getpid())")
        try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        atexit {
            let root = FileManager.default.temporaryDirectory
                .appendingPathComponent("\(TestPaths.temporaryRootPrefix)\(getpid())")
            try? FileManager.default.removeItem(at: root)
        }
        return root
    }()

    static let temporaryRootPrefix = "inpars-tests-"

    /// Removes `inpars-tests-<pid>` folders in `base` whose process no longer runs.
    ///
    /// - Returns: the folders removed.
    @discardableResult
    public static func removeStaleTemporaryRoots(in base: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: base.path)) ?? []
        var removed: [URL] = []
        for name in names where name.hasPrefix(temporaryRootPrefix) {
            guard let pid = Int32(name.dropFirst(temporaryRootPrefix.count)), pid > 0,
                pid != getpid(), kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            let url = base.appendingPathComponent(name)
            if (try? FileManager.default.removeItem(at: url)) != nil { removed.append(url) }
        }
        return removed
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

/// A seeded generator for reproducible random test inputs (InparsCore's SplitMix64).
public struct TestRandom: RandomNumberGenerator, Sendable {
    private var base: SeededGenerator

    public init(seed: UInt64) { base = SeededGenerator(seed: seed) }

    public mutating func next() -> UInt64 { base.next() }

    /// `count` floats uniform in `range`.
    public mutating func floats(_ count: Int, in range: ClosedRange<Float> = -1...1) -> [Float] {
        (0..<count).map { _ in Float.random(in: range, using: &self) }
    }
}

/// Runs built executables of this package from tests.
public enum BuiltProducts {
    /// The directory holding the built products (`.build/<config>`), found beside the test bundle.
    public static var directory: URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // The runner is `.build/<config>/<package>PackageTests.xctest` (a file on Linux).
        while url.pathComponents.count > 1 {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("inpars").path) {
                return url
            }
        }
        return TestPaths.repositoryRoot.appendingPathComponent(".build/debug")
    }

    /// The result of one run of a built executable.
    public struct Result: Sendable {
        /// The exit status, or the signal number when ``signal`` is set.
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// The signal that ended the process (a Swift trap is SIGILL or SIGTRAP), if one did.
        public var signal: Int32?
    }

    /// Runs `product` with `arguments`, waits for it, and captures stdout and stderr.
    ///
    /// - Parameter timeout: seconds after which the process is killed (SIGKILL; reported as
    ///   ``Result/signal`` 9).
    public static func run(
        _ arguments: [String], product: String = "inpars", environment: [String: String]? = nil,
        currentDirectory: URL? = nil, timeout: Double? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = directory.appendingPathComponent(product)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        if let timeout {
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [process] in
                if process.isRunning { kill(pid, SIGKILL) }
            }
        }
        // Read both pipes concurrently so a chatty child cannot block on a full pipe.
        final class Box: @unchecked Sendable { var data = Data() }  // written once, read after join
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errBox.data, as: UTF8.self),
            signal: process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil)
    }
}

/// Spearman's rank correlation of two equally long score lists (ties get their mean rank).
public func spearman(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count && a.count > 1, "spearman needs two lists of one length ≥ 2")
    func ranks(_ x: [Float]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var result = [Double](repeating: 0, count: x.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count && x[order[end + 1]] == x[order[start]] { end += 1 }
            for i in start...end { result[order[i]] = Double(start + end) / 2 }
            start = end + 1
        }
        return result
    }
    let (ra, rb) = (ranks(a), ranks(b))
    let mean = Double(a.count - 1) / 2
    var (covariance, va, vb) = (0.0, 0.0, 0.0)
    for i in a.indices {
        covariance += (ra[i] - mean) * (rb[i] - mean)
        va += (ra[i] - mean) * (ra[i] - mean)
        vb += (rb[i] - mean) * (rb[i] - mean)
    }
    return covariance / (va * vb).squareRoot()
}

/// How far `scores` are from `reference` (the same pairs scored another way), with the pairs
/// in groups of `group` documents per query: Spearman's rank correlation, the largest absolute
/// difference, and the mean over groups of the top-10 overlap.
public func scoreDistance(_ scores: [Float], _ reference: [Float], group: Int) -> (
    spearman: Double, maxDelta: Float, overlap: Double
) {
    precondition(scores.count == reference.count && scores.count % group == 0, "groups of \(group)")
    let overlaps = stride(from: 0, to: scores.count, by: group).map { start in
        topOverlap(
            Array(scores[start..<(start + group)]), Array(reference[start..<(start + group)]), k: 10)
    }
    return (
        spearman(scores, reference), zip(scores, reference).map { abs($0 - $1) }.max()!,
        Double(overlaps.reduce(0, +)) / Double(overlaps.count)
    )
}

/// How many of the `k` best-scored indices of `a` are among the `k` best of `b`.
public func topOverlap(_ a: [Float], _ b: [Float], k: Int) -> Int {
    let top = { (x: [Float]) in Set(x.indices.sorted { (x[$0], $1) > (x[$1], $0) }.prefix(k)) }
    return top(a).intersection(top(b)).count
}

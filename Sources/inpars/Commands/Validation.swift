import ArgumentParser
import InparsCore

/// Throws a usage error naming `flag` unless `value` lies in `range`.
func requireFlag<Value: Comparable & CustomStringConvertible>(
    _ flag: String, _ value: Value, in range: ClosedRange<Value>
) throws {
    guard range.contains(value) else {
        throw ValidationError(
            "\(flag) must be between \(range.lowerBound) and \(range.upperBound); got \(value).")
    }
}

/// Throws a usage error unless `--threads` lies in 1…``Limits/threads``.
func requireThreads(_ threads: Int) throws {
    try requireFlag("--threads", threads, in: 1...Limits.threads)
}

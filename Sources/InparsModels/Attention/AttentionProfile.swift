import Foundation
import Synchronization

/// Opt-in timing of the attention kernel, for benchmarks. With ``BLAS/Profile`` (time inside
/// every sgemm) it splits a forward pass into dense GEMMs, attention and the rest.
///
/// Attention (scores, softmax, P·V) may run on several workers at once, so its sgemm time is
/// kept apart: summed over workers in ``Totals/attentionGEMMThreadSeconds`` and as wall time in
/// ``Totals/attentionSeconds``.
public enum AttentionProfile {
    static let enabledFlag = Atomic<Bool>(false)
    static let attentionNanoseconds = Atomic<UInt64>(0)
    static let attentionGEMMNanoseconds = Atomic<UInt64>(0)
    /// Useful floating-point operations of the two products (visible keys only), in units of 1.
    static let attentionOperations = Atomic<UInt64>(0)

    /// Turns the accounting on or off (off by default).
    public static var isEnabled: Bool {
        get { enabledFlag.load(ordering: .relaxed) }
        set { enabledFlag.store(newValue, ordering: .relaxed) }
    }

    public static func reset() {
        attentionNanoseconds.store(0, ordering: .relaxed)
        attentionGEMMNanoseconds.store(0, ordering: .relaxed)
        attentionOperations.store(0, ordering: .relaxed)
    }

    public struct Totals: Sendable {
        /// Wall time of multi-head attention sections (scores, softmax, P·V).
        public var attentionSeconds: Double
        /// Time inside sgemm within attention, summed over the workers that ran it.
        public var attentionGEMMThreadSeconds: Double
        /// Floating-point operations of `Q·Kᵀ` and `P·V` over the visible keys (2 per
        /// multiply-add; masked and padded keys not counted), whatever kernel ran them.
        public var attentionFlops: Double
        /// ``attentionFlops`` over ``attentionSeconds``, in GFLOP/s (0 when nothing ran).
        public var attentionGFLOPS: Double {
            attentionSeconds > 0 ? attentionFlops / attentionSeconds / 1e9 : 0
        }
    }

    public static var totals: Totals {
        Totals(
            attentionSeconds: Double(attentionNanoseconds.load(ordering: .relaxed)) / 1e9,
            attentionGEMMThreadSeconds: Double(attentionGEMMNanoseconds.load(ordering: .relaxed))
                / 1e9,
            attentionFlops: Double(attentionOperations.load(ordering: .relaxed)))
    }

    @inline(__always)
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Adds the time since `start` to the attention sgemm total.
    @inline(__always)
    static func addGEMM(since start: UInt64) {
        attentionGEMMNanoseconds.add(now() &- start, ordering: .relaxed)
    }
}

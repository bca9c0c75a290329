internal import CKernels

/// The C allocator's settings for model work.
public enum AllocatorSettings {
    /// Large blocks (a layer's activations: tens of MB, allocated and freed at every layer)
    /// come from the heap and are reused, instead of glibc's default of mapping each block
    /// over 32 MiB afresh and unmapping it on free, where the first touch of every page is a
    /// page fault. t5-small fp32 scoring of 32 pairs made 578,000 page faults by default and
    /// 83,000 with this (`Docs/performance.md`). Freed memory up to 1 GiB above the heap's top
    /// is kept for reuse rather than returned at once; the peak is what the work needs either
    /// way. Call once, early, before the work allocates.
    public static func keepLargeAllocations() {
        inpars_keep_large_allocations()
    }
}

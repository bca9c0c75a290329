#if canImport(Glibc)
    import Glibc
#endif

/// Process-wide allocator settings for training.
public enum ProcessMemory {
    /// Makes glibc keep freed large blocks for reuse instead of unmapping them.
    ///
    /// A training step allocates and frees many multi-megabyte tensors; glibc serves blocks
    /// above `M_MMAP_THRESHOLD` with fresh `mmap`s, so every step pays page faults and zeroing
    /// for memory it just returned. Raising the mmap and trim thresholds to 1 GiB lets the heap
    /// recycle those blocks: measured on t5-small (batch 4 × 512, one thread) the kernel's share
    /// of CPU time fell from 21 % to 8 % and CPU time per step by 16 %, with the same peak RSS.
    /// Call once at startup (the `train` command does); a no-op off glibc.
    public static func retainFreedMemory() {
        #if canImport(Glibc)
            _ = glibcMallopt(-3, 1 << 30)  // M_MMAP_THRESHOLD
            _ = glibcMallopt(-1, 1 << 30)  // M_TRIM_THRESHOLD
        #endif
    }
}

#if canImport(Glibc)
    /// glibc's `mallopt` (declared in `malloc.h`, which the Glibc module does not import).
    @_silgen_name("mallopt")
    private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

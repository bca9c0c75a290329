import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A whole regular file mapped read-only into memory (BM25 indexes, safetensors and torch
/// checkpoints).
///
/// `@unchecked Sendable`: the mapping is created once in `init`, never written (PROT_READ), and
/// unmapped only in `deinit`, when no other reference can exist. ``bytes`` stays valid for as
/// long as the object is alive; callers that hand out pointers keep the object alive with them.
public final class MappedFile: @unchecked Sendable {
    /// Why a file could not be mapped; callers turn it into their module's error.
    public enum Failure: Error, Equatable, Sendable {
        /// Nothing exists at the path.
        case notFound
        /// The path is a directory, device or other non-regular file.
        case notRegularFile
        /// `open`, `fstat` or `mmap` failed; the reason is `strerror`'s text.
        case system(operation: String, reason: String)
    }

    /// The file's path, for error messages.
    public let path: String
    /// The mapped bytes (empty for an empty file).
    public let bytes: UnsafeRawBufferPointer
    /// The file's size in bytes.
    public var size: Int { bytes.count }
    private let base: UnsafeMutableRawPointer?

    /// Maps the file at `path`; an empty file maps to an empty buffer.
    public init(path: String) throws(Failure) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw .notFound }
            throw .system(operation: "open", reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw .system(operation: "stat", reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .notRegularFile }
        let size = Int(info.st_size)
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let pointer, pointer != MAP_FAILED else {
            throw .system(operation: "mmap", reason: String(cString: strerror(errno)))
        }
        base = pointer
        bytes = UnsafeRawBufferPointer(start: pointer, count: size)
    }

    deinit {
        if let base { munmap(base, bytes.count) }
    }

    /// Calls `body` with the mapped bytes; the pointer must not escape.
    public func withBytes<R, E: Error>(
        _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(bytes)
    }

    /// Hints that `range` will be read soon (fewer page faults on large sequential copies).
    public func adviseWillNeed(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        _ = madvise(base + start, range.upperBound - start, MADV_WILLNEED)
    }
}

/// Positional reads of an open file.
public enum FileBytes {
    /// Reads up to `buffer.count` bytes of the open file `descriptor` from `offset`, retrying
    /// interrupted and partial reads; returns how many were read (fewer only at the end of the
    /// file).
    ///
    /// - Throws: ``InparsCoreError/readFailed(path:reason:)`` naming `path`, with `strerror`'s
    ///   text.
    public static func read(
        _ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64,
        path: String
    ) throws -> Int {
        var done = 0
        while done < buffer.count {
            let got = pread(
                descriptor, buffer.baseAddress! + done, buffer.count - done,
                off_t(offset) + off_t(done))
            if got < 0 && errno == EINTR { continue }
            if got < 0 {
                throw InparsCoreError.readFailed(path: path, reason: String(cString: strerror(errno)))
            }
            if got == 0 { break }
            done += got
        }
        return done
    }
}

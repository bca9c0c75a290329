import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A whole file mapped read-only into memory.
///
/// `@unchecked Sendable`: the mapping is created once in `init`, never written (PROT_READ), and
/// unmapped only in `deinit`, when no other reference can exist; pointers derived from it are
/// handed out only for the duration of a `withBytes` call.
final class MappedFile: @unchecked Sendable {
    /// The file's path, for error messages.
    let path: String
    /// The file's size in bytes.
    let size: Int
    private let base: UnsafeMutableRawPointer?

    /// Maps `url`; an empty file maps to an empty buffer.
    init(url: URL) throws(CheckpointError) {
        path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw .fileNotFound(file: path) }
            throw .io(file: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw .io(file: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .io(file: path, reason: "not a regular file")
        }
        size = Int(info.st_size)
        if size == 0 {
            base = nil
            return
        }
        let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let pointer, pointer != MAP_FAILED else {
            throw .io(file: path, reason: "mmap failed: " + String(cString: strerror(errno)))
        }
        base = pointer
    }

    deinit {
        if let base { munmap(base, size) }
    }

    /// Calls `body` with the mapped bytes; the pointer must not escape.
    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base.map { UnsafeRawPointer($0) }, count: size))
    }

    /// Hints that `range` will be read soon and sequentially (fewer page faults on large copies).
    func adviseWillNeed(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        _ = madvise(base + start, range.upperBound - start, MADV_WILLNEED)
    }
}

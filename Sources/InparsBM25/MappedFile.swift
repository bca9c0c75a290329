import Foundation

/// A read-only memory map of a whole file, unmapped on deinit.
final class MappedFile: @unchecked Sendable {
    // Invariant: the mapping is read-only and never remapped, so sharing it is safe.
    let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?

    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            if errno == ENOENT { throw BM25Error.indexNotFound(path: path) }
            throw BM25Error.corrupted(
                path: path, detail: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw BM25Error.corrupted(path: path, detail: "cannot stat the file")
        }
        let size = Int(info.st_size)
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let pointer, pointer != MAP_FAILED else {
            throw BM25Error.corrupted(
                path: path, detail: "cannot map: \(String(cString: strerror(errno)))")
        }
        base = pointer
        bytes = UnsafeRawBufferPointer(start: pointer, count: size)
    }

    deinit {
        if let base { munmap(base, bytes.count) }
    }
}

import Dispatch
import Foundation

/// An ``AppendFile`` and the SHA-256 of its bytes, written on a background queue.
///
/// ``submit(_:)`` hands a buffer over and returns at once; one serial queue writes the
/// buffers in order and feeds them to the digest, so writing and hashing a large output (a
/// 300k-line run is 12 MB) overlap with the work that produces it instead of following it.
/// Each write also starts the kernel's writeback of those bytes, so the `fsync` that ends the
/// output waits for little. ``drain()`` waits for every buffer submitted and rethrows the
/// first write error; ``length()``, ``sync()``, ``close()`` and ``digestHex()`` drain first,
/// so callers see the file as if every write had been synchronous. Written buffers come back
/// through ``spareBuffer(capacity:)`` (emptied, capacity kept), so a long run reuses a few
/// buffers instead of faulting in fresh pages.
///
/// One owner calls these methods (not thread-safe among callers); the queue is the only
/// other party, and the lock guards what the two share.
final class BackgroundAppender: @unchecked Sendable {
    private let file: AppendFile
    private var digest: SHA256
    private let queue: DispatchQueue
    private let group = DispatchGroup()
    private let lock = NSLock()
    /// The first write error (later buffers are dropped once one fails).
    private var failure: Error?
    /// Buffers submitted and not yet written, oldest first.
    private var queued: [[UInt8]] = []
    private var spares: [[UInt8]] = []

    /// - Parameter digest: the SHA-256 of the bytes already in the file (empty when fresh).
    init(file: AppendFile, digest: SHA256) {
        self.file = file
        self.digest = digest
        queue = DispatchQueue(label: "inpars.append.\(file.url.lastPathComponent)")
    }

    var url: URL { file.url }

    /// Queues `bytes` to be appended and hashed (moved in, so the written buffer can come back
    /// through ``spareBuffer(capacity:)`` without a copy).
    func submit(_ bytes: consuming [UInt8]) {
        guard !bytes.isEmpty else { return }
        lock.lock()
        queued.append(consume bytes)
        lock.unlock()
        queue.async(group: group) { [self] in writeNext() }
    }

    /// Writes and hashes the oldest queued buffer, then keeps it as a spare (on the queue).
    private func writeNext() {
        lock.lock()
        var buffer = queued.removeFirst()
        let failed = failure != nil
        lock.unlock()
        if !failed {
            do {
                try buffer.withUnsafeBytes { try file.append($0) }
                file.startWriteback()
                buffer.withUnsafeBytes { digest.update($0) }
            } catch {
                lock.lock()
                failure = error
                lock.unlock()
            }
        }
        buffer.removeAll(keepingCapacity: true)
        lock.lock()
        if spares.count < 2 { spares.append(buffer) }
        lock.unlock()
    }

    /// An empty buffer with the capacity of one already written, or a new one.
    func spareBuffer(capacity: Int) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        if let buffer = spares.popLast() { return buffer }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(capacity)
        return buffer
    }

    /// Waits for every submitted buffer; throws the first write error.
    func drain() throws {
        group.wait()
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
    }

    /// Bytes in the file once every submitted buffer is written.
    func length() throws -> Int64 {
        try drain()
        return file.length
    }

    func sync() throws {
        try drain()
        try file.sync()
    }

    func close() throws {
        try drain()
        try file.close()
    }

    /// The hex SHA-256 of every byte of the file (finalizes the digest: call once).
    func digestHex() throws -> String {
        try drain()
        return digest.finalizeHex()
    }
}

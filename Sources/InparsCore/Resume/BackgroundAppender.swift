import Dispatch
import Foundation

/// An ``AppendFile`` and the SHA-256 of its bytes, written and hashed on background queues.
///
/// ``submit(_:)`` hands a buffer over and returns at once; one serial queue writes the
/// buffers in order, and a second one feeds each written buffer to the digest, so writing and
/// hashing a large output (a 300k-line run is 12 MB) overlap with the work that produces it
/// instead of following it. Each write also starts the kernel's writeback of those bytes, so
/// the `fsync` that ends the output waits for little.
///
/// Writing and hashing are waited for separately because they are needed at different
/// times: ``drainWrites()`` waits until every buffer submitted is in the file (what
/// ``length()``, ``sync()`` and ``close()`` need, so callers see the file as if every write
/// had been synchronous), while only ``digestHex()`` waits for the hashing (``drain()`` waits
/// for both). So the SHA-256 of an output's last buffers is taken while its `fsync` waits for
/// the disk, not before. Both rethrow the first write error. Hashed buffers come back through
/// ``spareBuffer(capacity:)`` (emptied, capacity kept), so a long run reuses a few buffers
/// instead of faulting in fresh pages.
///
/// One owner calls these methods (not thread-safe among callers); the queues are the only
/// other parties, and the lock guards what they share. The digest is only touched on the
/// hashing queue until ``digestHex()`` has waited for it.
final class BackgroundAppender: @unchecked Sendable {
    private let file: AppendFile
    private var digest: SHA256
    private let writer: DispatchQueue
    private let hasher: DispatchQueue
    /// Buffers submitted and not yet written.
    private let writing = DispatchGroup()
    /// Buffers submitted and not yet hashed.
    private let hashing = DispatchGroup()
    private let lock = NSLock()
    /// The first write error (later buffers are dropped once one fails).
    private var failure: Error?
    /// Buffers submitted and not yet written, oldest first.
    private var queued: [[UInt8]] = []
    /// Buffers written and not yet hashed, oldest first.
    private var toHash: [[UInt8]] = []
    private var spares: [[UInt8]] = []

    /// Buffers kept for reuse: the one being filled, one being written and one being hashed
    /// then find a spare.
    private static let spareCount = 3

    /// - Parameter digest: the SHA-256 of the bytes already in the file (empty when fresh).
    init(file: AppendFile, digest: SHA256) {
        self.file = file
        self.digest = digest
        writer = DispatchQueue(label: "inpars.append.\(file.url.lastPathComponent)")
        hasher = DispatchQueue(label: "inpars.hash.\(file.url.lastPathComponent)")
    }

    var url: URL { file.url }

    /// Queues `bytes` to be appended and hashed (moved in, so the buffer can come back through
    /// ``spareBuffer(capacity:)`` without a copy).
    func submit(_ bytes: consuming [UInt8]) {
        guard !bytes.isEmpty else { return }
        lock.lock()
        queued.append(consume bytes)
        lock.unlock()
        writing.enter()
        hashing.enter()
        writer.async { [self] in writeNext() }
    }

    /// Writes the oldest queued buffer, then hands it to the hashing queue (on the writer).
    private func writeNext() {
        lock.lock()
        let buffer = queued.removeFirst()
        let failed = failure != nil
        lock.unlock()
        if !failed {
            do {
                try buffer.withUnsafeBytes { try file.append($0) }
                file.startWriteback()
            } catch {
                lock.lock()
                failure = error
                lock.unlock()
            }
        }
        lock.lock()
        // Moved, not copied: the hashing queue then owns the only reference, so emptying it
        // keeps its memory instead of allocating anew.
        toHash.append(consume buffer)
        lock.unlock()
        writing.leave()
        hasher.async { [self] in hashNext() }
    }

    /// Feeds the oldest written buffer to the digest and keeps it as a spare (on the hashing
    /// queue).
    private func hashNext() {
        lock.lock()
        var buffer = toHash.removeFirst()
        lock.unlock()
        buffer.withUnsafeBytes { digest.update($0) }
        buffer.removeAll(keepingCapacity: true)
        lock.lock()
        if spares.count < Self.spareCount { spares.append(buffer) }
        lock.unlock()
        hashing.leave()
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

    /// Waits until every submitted buffer is written; throws the first write error.
    func drainWrites() throws {
        writing.wait()
        try rethrowFailure()
    }

    /// Waits until every submitted buffer is written and hashed; throws the first write error.
    func drain() throws {
        writing.wait()
        hashing.wait()
        try rethrowFailure()
    }

    private func rethrowFailure() throws {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
    }

    /// Bytes in the file once every submitted buffer is written.
    func length() throws -> Int64 {
        try drainWrites()
        return file.length
    }

    /// Writes every submitted buffer and flushes the file to disk (`fsync`).
    func sync() throws {
        try drainWrites()
        try file.sync()
    }

    /// Writes every submitted buffer and closes the file; `sync: false` when a ``sync()``
    /// since the last submission already made every byte durable.
    func close(sync: Bool = true) throws {
        try drainWrites()
        try file.close(sync: sync)
    }

    /// The hex SHA-256 of every byte of the file (finalizes the digest: call once).
    func digestHex() throws -> String {
        try drain()
        return digest.finalizeHex()
    }
}

import Dispatch
import Foundation

/// An ``AppendFile`` and the SHA-256 of its bytes, written and hashed either on background
/// queues or on the caller's thread.
///
/// ``append(_:)`` copies bytes into a buffer, which is handed over at 1 MiB (or before it
/// would outgrow that: growing would copy it into fresh memory) and by ``flush()``. Each
/// write also starts the kernel's writeback of those bytes, so the `fsync` that ends the
/// output waits for little.
///
/// - In the background (`background: true`), one serial queue writes the handed-over buffers
///   in order and a second one feeds each written buffer to the digest, so writing and hashing
///   a large output (a 300k-line run is 12 MB) run beside the work that produces it, on cores
///   that work leaves free. Writing and hashing are waited for separately because they are
///   needed at different times: ``drainWrites()`` waits until every buffer handed over is in
///   the file (what ``length()``, ``sync()`` and ``close(sync:)`` need, so callers see the
///   file as if every write had been synchronous), while only ``digestHex()`` waits for the
///   hashing; so the SHA-256 of an output's last buffers is taken while its `fsync` waits for
///   the disk. A write error is rethrown by the next call that waits. Hashed buffers come back
///   for reuse (emptied, capacity kept).
/// - On the caller's thread (`background: false`), appended bytes are hashed as they are
///   copied (while they are in cache) and each buffer is written when handed over, as a plain
///   buffered writer would. For callers whose own threads already keep every core busy (a
///   search with `--threads` = cores): there the background threads only competed with them
///   for the same cores, and added wake-ups and buffers in flight (fresh pages to fault in)
///   for no parallelism. Errors are thrown by the call that meets them.
///
/// One owner calls these methods (not thread-safe among callers), with one exception: once
/// everything is handed over, ``sync()`` may run on another thread beside ``length()`` and
/// ``digestHex()`` (it only waits and flushes the descriptor; they only wait and read what no
/// write changes any more). The queues are the only other parties, and the lock guards what
/// they share. In the background the digest is only touched on the hashing queue until
/// ``digestHex()`` has waited for it.
final class HashingAppender: @unchecked Sendable {
    private let file: AppendFile
    private var digest: SHA256
    private let background: Bool
    /// Bytes appended and not yet handed over.
    private var pending: [UInt8] = []
    private let writer: DispatchQueue
    private let hasher: DispatchQueue
    /// Buffers handed over and not yet written.
    private let writing = DispatchGroup()
    /// Buffers handed over and not yet hashed.
    private let hashing = DispatchGroup()
    private let lock = NSLock()
    /// The first background write error (later buffers are dropped once one fails).
    private var failure: Error?
    /// Buffers handed over and not yet written, oldest first.
    private var queued: [[UInt8]] = []
    /// Buffers written and not yet hashed, oldest first.
    private var toHash: [[UInt8]] = []
    private var spares: [[UInt8]] = []

    /// Bytes gathered before they are written.
    static let handOver = 1 << 20
    /// Buffers kept for reuse: the one being filled, one being written and one being hashed
    /// then find a spare.
    private static let spareCount = 3

    /// - Parameters:
    ///   - digest: the SHA-256 of the bytes already in the file (empty when fresh).
    ///   - background: write and hash on background queues, or on the caller's thread.
    init(file: AppendFile, digest: SHA256, background: Bool = true) {
        self.file = file
        self.digest = digest
        self.background = background
        writer = DispatchQueue(label: "inpars.append.\(file.url.lastPathComponent)")
        hasher = DispatchQueue(label: "inpars.hash.\(file.url.lastPathComponent)")
        pending.reserveCapacity(Self.handOver)
    }

    var url: URL { file.url }

    /// Appends `bytes` (buffered; written at the next hand-over).
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        if !pending.isEmpty && pending.count + bytes.count > Self.handOver { try flush() }
        if !background { digest.update(bytes) }
        pending.append(contentsOf: bytes)
        if pending.count >= Self.handOver { try flush() }
    }

    /// Hands the buffered bytes over: queued for the background writer, or written now.
    func flush() throws {
        guard !pending.isEmpty else { return }
        if background {
            let buffer = pending
            pending = spareBuffer()
            submit(buffer)
        } else {
            try pending.withUnsafeBytes { try file.append($0) }
            file.startWriteback()
            pending.removeAll(keepingCapacity: true)
        }
    }

    /// Queues `bytes` to be appended and hashed (moved in, so the buffer can come back for
    /// reuse without a copy).
    private func submit(_ bytes: consuming [UInt8]) {
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
    private func spareBuffer() -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        if let buffer = spares.popLast() { return buffer }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(Self.handOver)
        return buffer
    }

    /// Waits until every buffer handed over is written; throws the first write error.
    func drainWrites() throws {
        writing.wait()
        try rethrowFailure()
    }

    /// Waits until every buffer handed over is written and hashed; throws the first write
    /// error.
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

    /// Bytes in the file once every buffer handed over is written (not those still buffered:
    /// ``flush()`` first).
    func length() throws -> Int64 {
        try drainWrites()
        return file.length
    }

    /// Writes every buffer handed over and flushes the file to disk (`fsync`).
    func sync() throws {
        try drainWrites()
        try file.sync()
    }

    /// Writes every buffer handed over and closes the file; `sync: false` when a ``sync()``
    /// since the last hand-over already made every byte durable.
    func close(sync: Bool = true) throws {
        try drainWrites()
        try file.close(sync: sync)
    }

    /// The hex SHA-256 of every byte handed over (finalizes the digest: call once, after
    /// ``flush()``).
    func digestHex() throws -> String {
        try drain()
        return digest.finalizeHex()
    }
}

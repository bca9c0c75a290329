/// A double-array trie over vocabulary pieces (UTF-8 bytes): one array access and one compare
/// per byte when walking, as sentencepiece's darts-clone trie.
///
/// Node `s` has its children at `base[s] + byte`; a slot `t` belongs to `s` when
/// `check[t] == s`. `units` interleaves `(base, check)` for locality. `pieceID[t]` is the id of
/// the piece ending at node `t`, or -1. The root is slot 0.
struct PieceTrie: Sendable {
    /// `units[2 t] = base[t]`, `units[2 t + 1] = check[t]` (-1: free slot).
    let units: [Int32]
    let pieceID: [Int32]

    /// Builds the trie. When a piece occurs twice the first id wins.
    init<S: Sequence>(pieces: S) where S.Element == (bytes: [UInt8], id: Int32) {
        // 1. A plain tree with per-node child lists.
        let (children, ids) = Self.tree(pieces)
        // 2. Place nodes breadth first; each node's base is the first offset where all its
        //    children's slots are free (first fit over a doubly linked list of free slots).
        var base: [Int32] = []
        var check: [Int32] = []
        var slotID: [Int32] = []
        var nextFree: [Int] = []
        var previousFree: [Int] = []
        var headFree = -1
        var lastFree = -1
        func grow(to count: Int) {
            let old = base.count
            guard count > old else { return }
            base += repeatElement(0, count: count - old)
            check += repeatElement(-1, count: count - old)
            slotID += repeatElement(-1, count: count - old)
            for i in old..<count {
                nextFree.append(i + 1 < count ? i + 1 : -1)
                previousFree.append(i > old ? i - 1 : lastFree)
            }
            if lastFree >= 0 { nextFree[lastFree] = old } else { headFree = old }
            lastFree = count - 1
        }
        func occupy(_ t: Int, parent: Int) {
            check[t] = Int32(parent)
            let p = previousFree[t]
            let n = nextFree[t]
            if p >= 0 { nextFree[p] = n } else { headFree = n }
            if n >= 0 { previousFree[n] = p } else { lastFree = p }
        }
        grow(to: 1024)
        occupy(0, parent: 0)  // the root
        slotID[0] = ids[0]
        var queue: [(node: Int, slot: Int)] = [(0, 0)]
        var head = 0
        while head < queue.count {
            let (node, slot) = queue[head]
            head += 1
            let list = children[node].sorted { $0.0 < $1.0 }
            guard let firstLabel = list.first.map({ Int($0.0) }) else { continue }
            if headFree < 0 { grow(to: base.count * 2) }
            var free = headFree
            var b = 0
            while true {
                b = free - firstLabel
                if b >= 1 {
                    if b + 256 >= base.count { grow(to: max(base.count * 2, b + 257)) }
                    var fits = true
                    for (label, _) in list.dropFirst() where check[b + Int(label)] >= 0 {
                        fits = false
                        break
                    }
                    if fits { break }
                }
                if nextFree[free] < 0 { grow(to: base.count * 2) }
                free = nextFree[free]
            }
            base[slot] = Int32(b)
            for (label, child) in list {
                let t = b + Int(label)
                occupy(t, parent: slot)
                slotID[t] = ids[Int(child)]
                queue.append((Int(child), t))
            }
        }
        var used = check.count
        while used > 1, check[used - 1] < 0 { used -= 1 }
        used += 256  // so base + byte never indexes past the end
        grow(to: used)
        var units = [Int32](repeating: 0, count: 2 * used)
        for t in 0..<used {
            units[2 * t] = base[t]
            units[2 * t + 1] = check[t]
        }
        self.units = units
        self.pieceID = Array(slotID[0..<used])
    }

    /// A plain tree of the pieces: per node its `(byte, child)` list and the id of the piece
    /// ending there (-1 for none; the first id wins).
    private static func tree<S: Sequence>(_ pieces: S) -> (children: [[(UInt8, Int32)]], ids: [Int32])
    where S.Element == (bytes: [UInt8], id: Int32) {
        var children: [[(UInt8, Int32)]] = [[]]
        var ids: [Int32] = [-1]
        for (bytes, id) in pieces where !bytes.isEmpty {
            var node = 0
            for byte in bytes {
                if let next = children[node].first(where: { $0.0 == byte }) {
                    node = Int(next.1)
                } else {
                    let next = Int32(children.count)
                    children[node].append((byte, next))
                    children.append([])
                    ids.append(-1)
                    node = Int(next)
                }
            }
            if ids[node] < 0 { ids[node] = id }
        }
        return (children, ids)
    }

    /// Read-only pointers to the trie for the duration of `withView`.
    struct View {
        let units: UnsafeBufferPointer<Int32>
        let pieceID: UnsafeBufferPointer<Int32>

        /// The child of `node` along `byte`, or -1.
        @inline(__always)
        func child(_ node: Int32, _ byte: UInt8) -> Int32 {
            let t = Int(units[2 * Int(node)]) + Int(byte)
            // Leaves have base 0; their "children" slots then never have check == node,
            // except for the root (slot 0), whose base is never 0 when it has children.
            guard units[2 * t + 1] == node, t != 0 else { return -1 }
            return Int32(t)
        }
    }

    func withView<R>(_ body: (View) throws -> R) rethrows -> R {
        try units.withUnsafeBufferPointer { units in
            try pieceID.withUnsafeBufferPointer { ids in
                try body(View(units: units, pieceID: ids))
            }
        }
    }
}

extension PieceTrie.View {
    /// The id of the piece spelled exactly by `bytes[range]` after walking from `node`, or -1.
    @inline(__always)
    func id(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, from node: Int32 = 0) -> Int32 {
        var node = node
        for i in range {
            node = child(node, bytes[i])
            if node < 0 { return -1 }
        }
        return pieceID[Int(node)]
    }

    /// The node reached by walking `bytes` from the root, or -1.
    func node(_ bytes: [UInt8]) -> Int32 {
        var node: Int32 = 0
        for byte in bytes {
            node = child(node, byte)
            if node < 0 { return -1 }
        }
        return node
    }
}

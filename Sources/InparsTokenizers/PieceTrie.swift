/// A byte trie over vocabulary pieces (UTF-8), stored flat for fast prefix walks.
///
/// Node 0 is the root. The root's children are found through a 256-entry table; every other
/// node keeps its children as a run `labels[firstChild[n] ..< firstChild[n] + childCount[n]]`
/// sorted by label, with the matching child nodes in `targets`. `pieceID[n]` is the id of the
/// piece that ends at node `n`, or -1.
struct PieceTrie: Sendable {
    let rootChildren: [Int32]
    let firstChild: [Int32]
    let childCount: [Int32]
    let labels: [UInt8]
    let targets: [Int32]
    let pieceID: [Int32]

    /// Builds the trie. When a piece occurs twice the first id wins.
    init<S: Sequence>(pieces: S) where S.Element == (bytes: [UInt8], id: Int32) {
        // Build with per-node child lists, then flatten.
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
        var rootChildren = [Int32](repeating: -1, count: 256)
        var firstChild = [Int32](repeating: 0, count: children.count)
        var childCount = [Int32](repeating: 0, count: children.count)
        var labels: [UInt8] = []
        var targets: [Int32] = []
        for (node, list) in children.enumerated() {
            let sorted = list.sorted { $0.0 < $1.0 }
            if node == 0 {
                for (label, target) in sorted { rootChildren[Int(label)] = target }
            }
            firstChild[node] = Int32(labels.count)
            childCount[node] = Int32(sorted.count)
            for (label, target) in sorted {
                labels.append(label)
                targets.append(target)
            }
        }
        self.rootChildren = rootChildren
        self.firstChild = firstChild
        self.childCount = childCount
        self.labels = labels
        self.targets = targets
        self.pieceID = ids
    }

    /// Read-only pointers to the trie arrays for the duration of `body`.
    struct View {
        let rootChildren: UnsafeBufferPointer<Int32>
        let firstChild: UnsafeBufferPointer<Int32>
        let childCount: UnsafeBufferPointer<Int32>
        let labels: UnsafeBufferPointer<UInt8>
        let targets: UnsafeBufferPointer<Int32>
        let pieceID: UnsafeBufferPointer<Int32>

        /// The child of `node` along `byte`, or -1.
        @inline(__always)
        func child(_ node: Int32, _ byte: UInt8) -> Int32 {
            if node == 0 { return rootChildren[Int(byte)] }
            let first = Int(firstChild[Int(node)])
            let count = Int(childCount[Int(node)])
            if count <= 8 {
                for i in first..<(first + count) where labels[i] == byte { return targets[i] }
                return -1
            }
            var low = first
            var high = first + count
            while low < high {
                let mid = (low + high) >> 1
                let label = labels[mid]
                if label == byte { return targets[mid] }
                if label < byte { low = mid + 1 } else { high = mid }
            }
            return -1
        }
    }

    func withView<R>(_ body: (View) throws -> R) rethrows -> R {
        try rootChildren.withUnsafeBufferPointer { root in
            try firstChild.withUnsafeBufferPointer { first in
                try childCount.withUnsafeBufferPointer { count in
                    try labels.withUnsafeBufferPointer { labels in
                        try targets.withUnsafeBufferPointer { targets in
                            try pieceID.withUnsafeBufferPointer { ids in
                                try body(
                                    View(
                                        rootChildren: root, firstChild: first, childCount: count,
                                        labels: labels, targets: targets, pieceID: ids))
                            }
                        }
                    }
                }
            }
        }
    }
}

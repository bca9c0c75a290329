import InparsCore

/// Per-thread analysis state: an analyzer, a local vocabulary and the current slice's output.
final class AnalysisWorker: @unchecked Sendable {
    // Invariant: used by one thread at a time (one worker per concurrentPerform iteration).
    var analyzer = EnglishAnalyzer()
    var vocabulary = TermTable()
    private var counts: [UInt32] = []
    private var touched: [Int32] = []
    /// Per document of the slice: its length, and its postings range in `termIds`/`tfs`.
    var lengths: [Int32] = []
    var starts: [Int32] = [0]
    var termIds: [Int32] = []
    var tfs: [UInt32] = []

    /// Number of distinct terms seen so far by this worker.
    var termCount: Int { vocabulary.count }

    /// The term with local id `id`.
    func term(_ id: Int) -> String { vocabulary.string(id) }

    func process(_ documents: ArraySlice<Document>) {
        lengths.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        starts.append(0)
        termIds.removeAll(keepingCapacity: true)
        tfs.removeAll(keepingCapacity: true)
        var vocabulary = self.vocabulary
        var counts = self.counts
        var touched = self.touched
        self.vocabulary = TermTable(capacity: 1)
        self.counts = []
        self.touched = []
        for document in documents {
            var length: Int32 = 0
            // Title and text are analysed separately: the "\n" of flatContents is a token
            // boundary, so the terms are the same as for title + "\n" + text.
            for field in [document.title, document.text] {
                analyzer.forEachTerm(in: field) { bytes in
                    let id = vocabulary.id(for: bytes)
                    if Int(id) == counts.count { counts.append(0) }
                    if counts[Int(id)] == 0 { touched.append(id) }
                    counts[Int(id)] += 1
                    length += 1
                }
            }
            for id in touched {
                termIds.append(id)
                tfs.append(counts[Int(id)])
                counts[Int(id)] = 0
            }
            touched.removeAll(keepingCapacity: true)
            lengths.append(length)
            starts.append(Int32(termIds.count))
        }
        self.vocabulary = vocabulary
        self.counts = counts
        self.touched = touched
    }
}

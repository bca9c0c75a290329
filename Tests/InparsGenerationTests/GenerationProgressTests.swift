import Foundation
import InparsCore
import Testing

@testable import InparsGeneration

/// A clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    var now = 100.0
}

@Suite struct GenerationProgressTests {
    @Test func linesReportRateETARetriesSkipsAndFailuresAtEachTenthOfTheWork() {
        let sink = CollectingProgressSink()
        let clock = ManualClock()
        let progress = GenerationProgress(total: 20, sink: sink, clock: { clock.now })
        clock.now += 1
        progress.record(written: 1)  // 5 %: no line yet
        #expect(sink.lines.isEmpty)
        clock.now += 1
        progress.record(written: 1, retries: 3)  // 10 % after 2 s: 1.0/s, 18 left → 18 s
        #expect(
            sink.lines == ["generate: 2/20 (10%), 1.0/s, ETA 18s, retries 3, skipped 0, failed 0"])
        for _ in 0..<2 { progress.record(skipped: 1) }
        clock.now += 2
        progress.record(failed: 1)
        progress.record(written: 1)  // 6/20 after 4 s = 1.5/s; 14 left → 9 s
        #expect(
            sink.lines.last == "generate: 6/20 (30%), 1.5/s, ETA 9s, retries 3, skipped 2, failed 1"
        )
        clock.now += 6
        progress.finish()
        #expect(
            sink.lines.last
                == "generate: 6/20 (30%), 0.6/s, ETA 23s, retries 3, skipped 2, failed 1")
    }

    @Test func durationsReadAsHoursMinutesSeconds() {
        #expect(GenerationProgress.duration(42) == "42s")
        #expect(GenerationProgress.duration(185) == "3m05s")
        #expect(GenerationProgress.duration(3725) == "1h02m")
    }
}

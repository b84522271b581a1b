@testable import IMSSimulator
import Testing

/// The quota window's arithmetic with made-up instants: no sleeps.
@Suite("sliding window counter")
struct SlidingWindowCounterTests {
    let start = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant {
        start.advanced(by: .milliseconds(milliseconds))
    }

    @Test("admits `limit` calls in any window; a call leaves the window W after it arrived")
    func limit() {
        var counter = SlidingWindowCounter(window: .seconds(10), limit: 3)
        var admitted: [Bool] = []
        for offset in [0, 1000, 2000, 3000, 9999] { admitted.append(counter.record(at: at(offset))) }
        #expect(admitted == [true, true, true, false, false])
        for (offset, expected) in [(10_000, true), (10_500, false), (11_000, true)] {
            // At 10,000 ms the call of 0 ms has left the window; at 11,000 the one of 1,000 ms.
            let admitted = counter.record(at: at(offset))
            #expect(admitted == expected, "\(offset) ms")
        }
    }

    @Test("refused calls do not use the quota, but count in the busiest window")
    func maxSeen() {
        var counter = SlidingWindowCounter(window: .seconds(1), limit: 2)
        for offset in [0, 100, 200, 300, 400] { _ = counter.record(at: at(offset)) }
        #expect(counter.maxSeenInWindow == 5)
        // Admitted were 0 and 100 ms. At 1,000 ms the call of 0 ms has left; at 1,050 ms the
        // admitted calls of 100 and 1,000 ms fill the quota; at 1,100 ms the one of 100 ms has left.
        var admitted: [Bool] = []
        for offset in [1000, 1050, 1100] { admitted.append(counter.record(at: at(offset))) }
        #expect(admitted == [true, false, true])
        #expect(counter.maxSeenInWindow == 6)  // 200, 300, 400, 1000, 1050 and 1100 ms
        for offset in stride(from: 5000, to: 5900, by: 100) { _ = counter.record(at: at(offset)) }
        #expect(counter.maxSeenInWindow == 9)
    }

    @Test("without a limit every call is admitted; thousands of calls stay cheap")
    func unlimited() {
        var counter = SlidingWindowCounter(window: .seconds(1), limit: nil)
        var refused = 0
        for offset in 0..<20_000 where !counter.record(at: at(offset / 4)) { refused += 1 }
        #expect(refused == 0)
        #expect(counter.maxSeenInWindow == 4000)
    }
}

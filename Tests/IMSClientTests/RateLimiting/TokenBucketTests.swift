import Testing

@testable import IMSClient

@Suite("TokenBucket")
struct TokenBucketTests {
    typealias Instant = ContinuousClock.Instant
    static let start = ContinuousClock.now

    /// `seconds` seconds plus `attoseconds` attoseconds.
    static func exactly(_ seconds: Int64, _ attoseconds: Int64 = 0) -> Duration {
        Duration(secondsComponent: seconds, attosecondsComponent: attoseconds)
    }

    @Test("starts full: burst calls at one instant are admitted, the next is refused")
    func startsFull() {
        var bucket = TokenBucket(rate: 5, burst: 3, now: Self.start)
        #expect(bucket.available(now: Self.start) == 3)
        #expect(bucket.durationUntilFull(now: Self.start) == .zero)
        #expect(bucket.take(now: Self.start) == .admitted(remaining: 2))
        #expect(bucket.take(now: Self.start) == .admitted(remaining: 1))
        #expect(bucket.take(now: Self.start) == .admitted(remaining: 0))
        #expect(bucket.take(now: Self.start) == .refused(retryAfter: .milliseconds(200)))
    }

    @Test("refills continuously at rate tokens per second, up to burst")
    func refill() {
        var bucket = TokenBucket(rate: 4, burst: 4, now: Self.start)
        for _ in 0..<4 { _ = bucket.take(now: Self.start) }
        #expect(bucket.available(now: Self.start) == 0)
        #expect(bucket.available(now: Self.start + .milliseconds(125)) == 0.5)
        #expect(bucket.available(now: Self.start + .milliseconds(250)) == 1)
        #expect(bucket.available(now: Self.start + .milliseconds(875)) == 3.5)
        #expect(bucket.available(now: Self.start + .seconds(1)) == 4)
        #expect(bucket.available(now: Self.start + .seconds(60)) == 4)
        #expect(bucket.durationUntilFull(now: Self.start) == .seconds(1))
        #expect(bucket.durationUntilFull(now: Self.start + .milliseconds(300)) == .milliseconds(700))
        // Idle time beyond full is not banked.
        #expect(bucket.take(now: Self.start + .seconds(60)) == .admitted(remaining: 3))
    }

    @Test("retryAfter is the exact time until one token exists, rounded up to the attosecond")
    func retryAfterExact() {
        var bucket = TokenBucket(rate: 3, burst: 1, now: Self.start)
        #expect(bucket.take(now: Self.start) == .admitted(remaining: 0))
        let third = Self.exactly(0, 333_333_333_333_333_334)
        #expect(bucket.take(now: Self.start) == .refused(retryAfter: third))
        let justBefore = Self.start + third - Duration(attoseconds: 1)
        #expect(bucket.take(now: justBefore) == .refused(retryAfter: Duration(attoseconds: 1)))
        #expect(bucket.take(now: Self.start + third) == .admitted(remaining: 0))

        var half = TokenBucket(rate: 0.5, burst: 1, now: Self.start)
        _ = half.take(now: Self.start)
        #expect(half.take(now: Self.start + .milliseconds(500)) == .refused(retryAfter: .milliseconds(1500)))
        #expect(half.take(now: Self.start + .seconds(2)) == .admitted(remaining: 0))
    }

    @Test("a now earlier than the last update adds no tokens and does not trap")
    func nonMonotonicNow() {
        var bucket = TokenBucket(rate: 1, burst: 2, now: Self.start)
        _ = bucket.take(now: Self.start + .seconds(10))
        _ = bucket.take(now: Self.start + .seconds(10))
        #expect(bucket.available(now: Self.start + .seconds(10)) == 0)
        // Going back in time: nothing gained, the refusal counts from the latest instant seen.
        #expect(bucket.take(now: Self.start) == .refused(retryAfter: .seconds(1)))
        #expect(bucket.available(now: Self.start + .seconds(5)) == 0)
        #expect(bucket.durationUntilFull(now: Self.start) == .seconds(2))
        // Time after the latest instant seen counts once, not from the earlier instant.
        #expect(bucket.take(now: Self.start + .seconds(11)) == .admitted(remaining: 0))
        #expect(bucket.take(now: Self.start + .seconds(11)) == .refused(retryAfter: .seconds(1)))
    }

    @Test("resize keeps min(current tokens, new burst) and refills at the new rate from then on")
    func resize() {
        var bucket = TokenBucket(rate: 1, burst: 10, now: Self.start)
        for _ in 0..<4 { _ = bucket.take(now: Self.start) }
        // 6 tokens; half a second at the old rate adds 0.5 before the new limits apply.
        bucket.resize(rate: 2, burst: 4, now: Self.start + .milliseconds(500))
        #expect(bucket.rate == 2)
        #expect(bucket.burst == 4)
        #expect(bucket.available(now: Self.start + .milliseconds(500)) == 4)

        for _ in 0..<4 { _ = bucket.take(now: Self.start + .milliseconds(500)) }
        #expect(bucket.take(now: Self.start + .milliseconds(500)) == .refused(retryAfter: .milliseconds(500)))
        // Growing the burst does not add tokens.
        bucket.resize(rate: 0.5, burst: 20, now: Self.start + .milliseconds(750))
        #expect(bucket.available(now: Self.start + .milliseconds(750)) == 0.5)
        #expect(bucket.take(now: Self.start + .milliseconds(750)) == .refused(retryAfter: .seconds(1)))
        #expect(bucket.durationUntilFull(now: Self.start + .milliseconds(750)) == .seconds(39))

        // A fraction of a token survives a change of the rate's denominator.
        var thirds = TokenBucket(rate: 1.0 / 3.0, burst: 1, now: Self.start)
        _ = thirds.take(now: Self.start)
        thirds.resize(rate: 0.5, burst: 1, now: Self.start + .seconds(1))
        let expected = Self.exactly(1, 333_333_333_333_333_334)
        #expect(thirds.take(now: Self.start + .seconds(1)) == .refused(retryAfter: expected))
    }

    @Test(
        "invalid rate and burst are clamped, never trap",
        arguments: [0, -1, Double.nan, Double.infinity, -Double.infinity, Double.leastNonzeroMagnitude]
    )
    func invalidRateClamped(rate: Double) {
        var bucket = TokenBucket(rate: rate, burst: 0, now: Self.start)
        #expect(bucket.rate == TokenBucketLimits.minimumRate)
        #expect(bucket.burst == 1)
        #expect(bucket.take(now: Self.start) == .admitted(remaining: 0))
        #expect(bucket.take(now: Self.start) == .refused(retryAfter: .seconds(1_000_000)))
        #expect(bucket.durationUntilFull(now: Self.start) == .seconds(1_000_000))
    }

    @Test("huge rate and burst are clamped to the maximums")
    func hugeLimitsClamped() {
        var bucket = TokenBucket(rate: 1e300, burst: Int.max, now: Self.start)
        #expect(bucket.rate == TokenBucketLimits.maximumRate)
        #expect(bucket.burst == TokenBucketLimits.maximumBurst)
        #expect(bucket.take(now: Self.start) == .admitted(remaining: TokenBucketLimits.maximumBurst - 1))
        bucket.resize(rate: 1, burst: Int.min, now: Self.start + .seconds(1_000_000_000))
        #expect(bucket.burst == 1)
        #expect(bucket.take(now: Self.start + .seconds(1_000_000_000)) == .admitted(remaining: 0))
    }

    @Test("rates are applied as exact fractions", arguments: [
        (5.0, 5, 1), (0.5, 1, 2), (2.5, 5, 2), (0.3, 3, 10), (1.0 / 3.0, 1, 3), (0.1, 1, 10),
        (1_000_000_000, 1_000_000_000, 1),
    ])
    func exactFractions(rate: Double, tokens: Int64, seconds: Int64) {
        let limits = TokenBucketLimits(rate: rate, burst: 1)
        #expect(limits.tokens == tokens)
        #expect(limits.seconds == seconds)
    }

    @Test("the refill window is the whole seconds to fill an empty bucket, rounded up", arguments: [
        (5.0, 5, 1), (5.0, 10, 2), (10, 5, 1), (3, 10, 4), (0.3, 3, 10), (0.3, 10, 34), (0.5, 1, 2),
    ])
    func refillSeconds(rate: Double, burst: Int, window: Int) {
        #expect(TokenBucketLimits(rate: rate, burst: burst).refillSeconds == window)
    }

    /// Calls every 100 ms from t = 0 s through t = `seconds` inclusive, all faster than `rate`.
    static func admittedUnderOverload(rate: Double, burst: Int, seconds: Int) -> (admitted: Int, lastAdmitted: Bool) {
        var bucket = TokenBucket(rate: rate, burst: burst, now: Self.start)
        var admitted = 0
        var lastAdmitted = false
        for step in 0...(seconds * 10) {
            if case .admitted = bucket.take(now: Self.start + .milliseconds(100 * step)) {
                admitted += 1
                lastAdmitted = true
            } else {
                lastAdmitted = false
            }
        }
        return (admitted, lastAdmitted)
    }

    /// Over the closed window [0 s, T], a saturated bucket admits burst + floor(rate × T): the
    /// token completed at exactly T counts, which only exact arithmetic gets right every time.
    /// Every burst is at least 2, so the bucket is never full between two calls and loses no refill
    /// (with burst 1 a token completed between two calls would wait, full, for the next call).
    @Test("a steady overload admits exactly burst + rate × elapsed, no more, no less", arguments: [
        (5.0, 5, 5, 30, true), (3.0, 3, 5, 18, true), (0.5, 2, 5, 4, false), (0.5, 2, 6, 5, true),
        (0.3, 2, 10, 5, true), (1.0 / 3.0, 2, 6, 4, true), (2.5, 4, 5, 16, false), (7.0, 2, 5, 37, true),
        (9.9, 2, 10, 101, true),
    ])
    func steadyOverload(rate: Double, burst: Int, seconds: Int, expected: Int, lastAdmitted: Bool) {
        let result = Self.admittedUnderOverload(rate: rate, burst: burst, seconds: seconds)
        #expect(result.admitted == expected)
        #expect(result.lastAdmitted == lastAdmitted)
    }

    @Test("a long steady overload does not drift")
    func longOverloadNoDrift() {
        // One day of calls every 100 ms against 3 per second: exactly 3 × 86,400 + burst.
        var bucket = TokenBucket(rate: 3, burst: 2, now: Self.start)
        var admitted = 0
        for step in 0...864_000 {
            if case .admitted = bucket.take(now: Self.start + .milliseconds(100 * step)) { admitted += 1 }
        }
        #expect(admitted == 3 * 86_400 + 2)
    }
}

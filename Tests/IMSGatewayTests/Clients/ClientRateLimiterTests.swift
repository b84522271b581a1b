import HTTPTypes
import IMSGateway
import Testing

@Suite("ClientRateLimiter")
struct ClientRateLimiterTests {
    static let fiveBurstFive = ClientRateLimit(rate: 5, burst: 5)

    /// The three fields, in the order the decision gives them.
    static func fields(policy: String, state: String, retryAfter: String? = nil) -> HTTPFields {
        var fields = HTTPFields()
        fields[RateLimitDecision.rateLimitPolicyHeader] = policy
        fields[RateLimitDecision.rateLimitHeader] = state
        if let retryAfter { fields[RateLimitDecision.retryAfterHeader] = retryAfter }
        return fields
    }

    @Test("20 simultaneous requests at rate 5/s burst 5: exactly 5 admitted, 15 refused with exact fields")
    func simultaneousBurst() async {
        let clock = TestClock()
        let limiter = ClientRateLimiter(clock: clock)
        let decisions = await withTaskGroup(of: RateLimitDecision.self) { group in
            for _ in 0..<20 {
                group.addTask { limiter.admit(client: "portal", limit: Self.fiveBurstFive) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let admitted = decisions.filter(\.admitted)
        let refused = decisions.filter { !$0.admitted }
        #expect(admitted.count == 5)
        #expect(refused.count == 15)
        // Each admitted call took its own token.
        #expect(admitted.map(\.remaining).sorted() == [0, 1, 2, 3, 4])
        #expect(admitted.allSatisfy { $0.retryAfterSeconds == 0 && $0.resetSeconds == 1 })
        #expect(admitted.allSatisfy { $0.headerFields[RateLimitDecision.retryAfterHeader] == nil })
        let expectedFields = Self.fields(
            policy: #""client";q=5;w=1"#, state: #""client";r=0;t=1"#, retryAfter: "1")
        for decision in refused {
            #expect(decision.retryAfterSeconds == 1)
            #expect(decision.remaining == 0)
            #expect(decision.resetSeconds == 1)
            #expect(decision.limit == Self.fiveBurstFive)
            #expect(decision.headerFields == expectedFields)
        }
    }

    /// Calls at t = 0.0, 0.1, …, 5.0 s: 51 calls over the closed 5 s window, twice the rate. The
    /// bucket holds 5 at t = 0 and completes token 25 of the refill at exactly t = 5.0 s, so the
    /// last call is admitted: 5 + 5 × 5 = 30 in all, 29 of them by t = 4.9 s.
    @Test("a steady 2x overload for 5 s admits exactly rate × 5 + burst = 30")
    func steadyOverload() {
        let clock = TestClock()
        let limiter = ClientRateLimiter(clock: clock)
        var admittedTimes: [Int] = []  // in tenths of a second
        for tenth in 0...50 {
            if tenth > 0 { clock.advance(by: .milliseconds(100)) }
            if limiter.admit(client: "script", limit: Self.fiveBurstFive).admitted {
                admittedTimes.append(tenth)
            }
        }
        #expect(admittedTimes.count == 30)
        #expect(admittedTimes.filter { $0 < 50 }.count == 29)
        #expect(admittedTimes.last == 50)
        // Every call while the burst drains (0.0 to 0.8 s), then every second call (one per 200 ms).
        #expect(Array(admittedTimes.prefix(9)) == Array(0...8))
        #expect(Array(admittedTimes.dropFirst(9)) == Array(stride(from: 10, through: 50, by: 2)))
    }

    @Test("an exhausted client does not limit another one")
    func clientsAreIndependent() {
        let clock = TestClock()
        let limiter = ClientRateLimiter(clock: clock)
        for _ in 0..<5 { _ = limiter.admit(client: "portal", limit: Self.fiveBurstFive) }
        #expect(limiter.admit(client: "portal", limit: Self.fiveBurstFive).admitted == false)

        let other = (0..<6).map { _ in limiter.admit(client: "script", limit: Self.fiveBurstFive) }
        #expect(other.map(\.admitted) == [true, true, true, true, true, false])
        #expect(other.map(\.remaining) == [4, 3, 2, 1, 0, 0])
        #expect(
            other[0].headerFields == Self.fields(policy: #""client";q=5;w=1"#, state: #""client";r=4;t=1"#))
        #expect(limiter.admit(client: "portal", limit: Self.fiveBurstFive).admitted == false)
    }

    @Test("a changed limit resizes the bucket, keeping at most the new burst")
    func changedLimitResizes() {
        let clock = TestClock()
        let limiter = ClientRateLimiter(clock: clock)
        #expect(limiter.admit(client: "portal", limit: Self.fiveBurstFive).remaining == 4)

        // Reloaded with a smaller burst: 4 tokens kept down to 2, one taken now.
        let smaller = ClientRateLimit(rate: 0.5, burst: 2)
        let first = limiter.admit(client: "portal", limit: smaller)
        #expect(
            first
                == RateLimitDecision(
                    admitted: true, limit: smaller, remaining: 1, retryAfterSeconds: 0, resetSeconds: 2))
        #expect(first.headerFields == Self.fields(policy: #""client";q=2;w=4"#, state: #""client";r=1;t=2"#))
        #expect(limiter.admit(client: "portal", limit: smaller).remaining == 0)
        let refused = limiter.admit(client: "portal", limit: smaller)
        #expect(
            refused
                == RateLimitDecision(
                    admitted: false, limit: smaller, remaining: 0, retryAfterSeconds: 2, resetSeconds: 4))
        #expect(
            refused.headerFields
                == Self.fields(policy: #""client";q=2;w=4"#, state: #""client";r=0;t=4"#, retryAfter: "2"))

        // Reloaded with a larger limit: no tokens gained by the change, refill at the new rate.
        let larger = ClientRateLimit(rate: 10, burst: 20)
        let stillEmpty = limiter.admit(client: "portal", limit: larger)
        #expect(
            stillEmpty
                == RateLimitDecision(
                    admitted: false, limit: larger, remaining: 0, retryAfterSeconds: 1, resetSeconds: 2))
        clock.advance(by: .milliseconds(300))
        let decisions = (0..<4).map { _ in limiter.admit(client: "portal", limit: larger) }
        #expect(decisions.map(\.admitted) == [true, true, true, false])
    }

    @Test("an invalid limit is clamped, never traps", arguments: [0, -3, Double.nan, Double.infinity])
    func invalidLimit(rate: Double) {
        let limiter = ClientRateLimiter(clock: TestClock())
        let limit = ClientRateLimit(rate: rate, burst: 0)
        #expect(limiter.admit(client: "portal", limit: limit).admitted)
        let refused = limiter.admit(client: "portal", limit: limit)
        #expect(refused.admitted == false)
        #expect(refused.retryAfterSeconds == 1_000_000)
        #expect(
            refused.headerFields
                == Self.fields(
                    policy: #""client";q=1;w=1000000"#, state: #""client";r=0;t=1000000"#, retryAfter: "1000000"))
    }

    @Test("a full bucket reports reset 0; the reset counts whole seconds rounded up")
    func resetSeconds() {
        let clock = TestClock()
        let limiter = ClientRateLimiter(clock: clock)
        let limit = ClientRateLimit(rate: 2, burst: 3)
        #expect(limiter.admit(client: "portal", limit: limit).resetSeconds == 1)  // 0.5 s
        clock.advance(by: .milliseconds(500))
        let atFull = limiter.admit(client: "portal", limit: limit)
        #expect(atFull.remaining == 2)
        #expect(atFull.resetSeconds == 1)
        _ = limiter.admit(client: "portal", limit: limit)
        _ = limiter.admit(client: "portal", limit: limit)
        #expect(limiter.admit(client: "portal", limit: limit).resetSeconds == 2)  // 1.5 s
        let full = RateLimitDecision(admitted: true, limit: limit, remaining: 3, retryAfterSeconds: 0, resetSeconds: 0)
        #expect(full.headerFields == Self.fields(policy: #""client";q=3;w=2"#, state: #""client";r=3;t=0"#))
    }

    @Test("a reload's limits apply from the reload: idle time after it counts at the new rate; removed clients lose their bucket")
    func reloadAppliesAtOnce() {
        let clock = TestClock()
        let limiter = ClientRateLimiter(clock: clock)
        let slow = ClientRateLimit(rate: 0.001, burst: 1)
        #expect(limiter.admit(client: "a", limit: slow).admitted)
        #expect(!limiter.admit(client: "a", limit: slow).admitted)
        _ = limiter.admit(client: "gone", limit: slow)
        let fast = ClientRateLimit(rate: 1, burst: 3)
        limiter.apply(limits: ["a": fast])
        #expect(limiter.bucketCount == 1)
        clock.advance(by: .seconds(10))
        let admitted = (0..<4).map { _ in limiter.admit(client: "a", limit: fast).admitted }
        #expect(admitted == [true, true, true, false])
    }
}

import Testing

@testable import IMSClient

/// SplitMix64: a deterministic generator, so that jittered delays are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("PollSchedule")
struct PollScheduleTests {
    @Test func defaultBaseDelays() {
        let schedule = PollSchedule()
        let expected: [Duration] = [
            .seconds(1), .milliseconds(1_500), .milliseconds(2_250), .milliseconds(3_375),
            .microseconds(5_062_500), .microseconds(7_593_750), .seconds(10), .seconds(10), .seconds(10),
        ]
        #expect((0..<expected.count).map { schedule.baseDelay(beforePoll: $0) } == expected)
        #expect(schedule.baseDelay(beforePoll: 1_000) == .seconds(10))
        #expect(schedule.baseDelay(beforePoll: .max) == .seconds(10))
    }

    @Test func customGrowthAndCap() {
        let schedule = PollSchedule(initialDelay: .seconds(2), growthFactor: 2, maxDelay: .seconds(5), jitter: 0)
        #expect((0..<4).map { schedule.baseDelay(beforePoll: $0) } == [.seconds(2), .seconds(4), .seconds(5), .seconds(5)])
    }

    @Test func zeroFirstDelayPollsAtOnceThenPausesFiftyMilliseconds() {
        let schedule = PollSchedule(initialDelay: .zero, growthFactor: 2, maxDelay: .seconds(1), jitter: 0)
        #expect((0..<4).map { schedule.baseDelay(beforePoll: $0) } == [.zero, .milliseconds(50), .milliseconds(100), .milliseconds(200)])
        let capped = PollSchedule(initialDelay: .zero, growthFactor: 2, maxDelay: .zero, jitter: 0)
        #expect((0..<3).map { capped.baseDelay(beforePoll: $0) } == [.zero, .milliseconds(50), .milliseconds(50)])
        // A cap under 50 ms still caps a schedule whose first poll is not immediate.
        let short = PollSchedule(initialDelay: .milliseconds(30), growthFactor: 1.5, maxDelay: .milliseconds(40), jitter: 0)
        #expect((0..<3).map { short.baseDelay(beforePoll: $0) } == [.milliseconds(30), .milliseconds(40), .milliseconds(40)])
    }

    @Test func parametersAreClamped() {
        let schedule = PollSchedule(initialDelay: .seconds(3), growthFactor: 0.5, maxDelay: .seconds(1), jitter: 0.9)
        #expect(schedule.growthFactor == 1)
        #expect(schedule.maxDelay == .seconds(3))
        #expect(schedule.jitter == 0.5)
        #expect(schedule.baseDelay(beforePoll: 5) == .seconds(3))
        #expect(PollSchedule(jitter: -1).jitter == 0)
    }

    @Test func jitterStaysWithinBounds() {
        let schedule = PollSchedule()
        var generator = SeededGenerator(seed: 0x1234_5678)
        var lowest = 2.0
        var highest = 0.0
        for index in 0..<12 {
            let base = schedule.baseDelay(beforePoll: index)
            for _ in 0..<200 {
                let delay = schedule.delay(beforePoll: index, using: &generator)
                #expect(delay >= base * 0.9)
                #expect(delay <= base * 1.1)
                let ratio = delay / base
                lowest = min(lowest, ratio)
                highest = max(highest, ratio)
            }
        }
        // 2,400 draws from a uniform ±10 % spread reach close to both ends.
        #expect(lowest < 0.91)
        #expect(highest > 1.09)
    }

    @Test func jitterIsDeterministicForOneSeed() {
        let schedule = PollSchedule()
        var first = SeededGenerator(seed: 42)
        var second = SeededGenerator(seed: 42)
        let a = (0..<20).map { schedule.delay(beforePoll: $0, using: &first) }
        let b = (0..<20).map { schedule.delay(beforePoll: $0, using: &second) }
        #expect(a == b)
        #expect(a != (0..<20).map { schedule.baseDelay(beforePoll: $0) })
    }

    @Test func zeroJitterGivesTheBaseDelayAndDrawsNothing() {
        let schedule = PollSchedule(jitter: 0)
        var generator = SeededGenerator(seed: 7)
        #expect((0..<8).map { schedule.delay(beforePoll: $0, using: &generator) } == (0..<8).map { schedule.baseDelay(beforePoll: $0) })
        var fresh = SeededGenerator(seed: 7)
        #expect(generator.next() == fresh.next())
    }

    @Test func seededGeneratorMatchesSplitMix64() {
        var generator = SeededGenerator(seed: 0)
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
    }
}

import Foundation
import Testing

@testable import IMSClient

@Suite("adaptive poll planner")
struct AdaptivePollPlannerTests {
    static let base = PollSchedule(initialDelay: .seconds(1), growthFactor: 1.5, maxDelay: .seconds(10), jitter: 0)

    @Test("the base schedule until a class has enough observations")
    func baseUntilLearned() {
        let planner = AdaptivePollPlanner(base: Self.base, minimumObservations: 3)
        #expect(planner.schedule(forImages: 1) == Self.base)
        for _ in 0..<2 { planner.observe(images: 1, firstDelay: .seconds(1), foundFinal: false) }
        #expect(planner.schedule(forImages: 1) == Self.base)
        planner.observe(images: 1, firstDelay: .seconds(1), foundFinal: false)
        #expect(planner.schedule(forImages: 1).initialDelay > .seconds(1))
        // Another batch-size class learned nothing.
        #expect(planner.schedule(forImages: 20) == Self.base)
    }

    @Test("the first delay settles where the target share of jobs is final at the first poll")
    func convergesToQuantile() {
        // Durations uniform on 2...4 s: the 35 % quantile is 2.7 s.
        let planner = AdaptivePollPlanner(base: Self.base, targetQuantile: 0.35, learningRate: 0.05)
        var generator = SeededGenerator(seed: 7)
        var delays: [Double] = []
        for step in 0..<4000 {
            let schedule = planner.schedule(forImages: 1)
            let duration = Double.random(in: 2...4, using: &generator)
            let first = schedule.initialDelay
            planner.observe(images: 1, firstDelay: first, foundFinal: Double(first.wholeNanoseconds) / 1e9 >= duration)
            if step >= 3000 { delays.append(Double(first.wholeNanoseconds) / 1e9) }
        }
        let mean = delays.reduce(0, +) / Double(delays.count)
        #expect(abs(mean - 2.7) < 0.15, "mean first delay \(mean)")
    }

    @Test("after the first poll, short steps growing slowly up to the cap")
    func stepsAfterTheFirstPoll() {
        let planner = AdaptivePollPlanner(
            base: Self.base, learningRate: 0.1, minimumObservations: 1, stepShare: 0.1, stepGrowth: 1.1)
        planner.observe(images: 3, firstDelay: .seconds(2), foundFinal: true)
        let schedule = planner.schedule(forImages: 3)
        let first = Double(schedule.initialDelay.wholeNanoseconds) / 1e9
        #expect(abs(first - 2 * exp(-0.065)) < 1e-6)
        let second = Double(schedule.baseDelay(beforePoll: 1).wholeNanoseconds) / 1e9
        #expect(abs(second - first * 0.1) < 1e-6)
        let third = Double(schedule.baseDelay(beforePoll: 2).wholeNanoseconds) / 1e9
        #expect(abs(third - first * 0.1 * 1.1) < 1e-6)
        #expect(schedule.baseDelay(beforePoll: 500) == .seconds(10))
    }

    @Test("a learned delay stays between 10 ms and the cap")
    func clamped() {
        let planner = AdaptivePollPlanner(base: Self.base, learningRate: 5, minimumObservations: 1)
        for _ in 0..<50 { planner.observe(images: 1, firstDelay: .seconds(1), foundFinal: false) }
        #expect(planner.schedule(forImages: 1).initialDelay == .seconds(10))
        for _ in 0..<200 { planner.observe(images: 1, firstDelay: .seconds(1), foundFinal: true) }
        #expect(planner.schedule(forImages: 1).initialDelay == .milliseconds(10))
    }
}

@Suite("adaptive poll planner: jobs far longer than the first poll")
struct AdaptivePollPlannerLongJobsTests {
    static let base = PollSchedule(initialDelay: .seconds(1), growthFactor: 1.5, maxDelay: .seconds(10), jitter: 0)

    /// Polls of a job of `seconds` on `schedule`.
    static func polls(_ schedule: PollSchedule, jobSeconds: Double) -> Int {
        var at = 0.0
        var count = 0
        repeat {
            at += Double(schedule.baseDelay(beforePoll: count).wholeNanoseconds) / 1e9
            count += 1
        } while at < jobSeconds
        return count
    }

    @Test("first polls that never find the job final: the base growth follows the learned first poll, no short steps")
    func noShortStepsWhileNothingIsFinal() {
        let planner = AdaptivePollPlanner(base: Self.base)
        for _ in 0..<10 { planner.observe(images: 1, firstDelay: .seconds(1), foundFinal: false) }
        let schedule = planner.schedule(forImages: 1)
        #expect(schedule.initialDelay > .seconds(1))
        #expect(schedule.secondDelay == nil)
        #expect(schedule.growthFactor == 1.5)
        // A 30 s job: at most the base schedule's 7 polls (short steps made 20 to 30).
        #expect(Self.polls(Self.base, jobSeconds: 30) == 7)
        #expect(Self.polls(schedule, jobSeconds: 30) <= 7)
    }

    @Test("once first polls find jobs final about as often as the target, short steps come back")
    func shortStepsWhenBracketed() {
        let planner = AdaptivePollPlanner(base: Self.base)
        for index in 0..<40 { planner.observe(images: 1, firstDelay: .seconds(2), foundFinal: index % 3 == 0) }
        let schedule = planner.schedule(forImages: 1)
        #expect(schedule.secondDelay != nil)
        #expect(schedule.growthFactor == 1.1)
    }
}

import Foundation
import Synchronization
import Testing

@testable import IMSGateway

/// The scheduler's own clock sleepers (one task sleeping on the clock per distinct instant the
/// loop must wake at, never one per wake-up).
@Suite("JobScheduler: clock sleepers")
struct JobSchedulerTests {
    final class Fired: Sendable {
        let count = Atomic<Int>(0)
    }

    /// Waits (real time, at most 60 s: the whole suite on 2 loaded cores can leave the
    /// scheduler's task unrun for many seconds) until `condition` holds.
    static func eventually(_ what: String, _ condition: () -> Bool) async throws {
        let limit = ContinuousClock.now.advanced(by: .seconds(60))
        while ContinuousClock.now < limit {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("never happened: \(what)")
    }

    @Test("a far timer and 50 near ones keep at most 2 sleepers on the clock; each near timer fires once; cancel ends them all")
    func sleepersDoNotPileUp() async throws {
        let clock = ManualClock()
        let scheduler = JobScheduler(jobs: FakeIMSJobs(showJobAnswers: []), clock: clock)
        let loop = Task { await scheduler.run() }
        scheduler.setTimer("far", at: clock.now.advanced(by: .seconds(600))) { _ in }
        try await Self.eventually("the far sleeper") { clock.sleepers == 1 }
        let fired = Fired()
        for round in 1...50 {
            scheduler.setTimer("near", at: clock.now.advanced(by: .seconds(1))) { _ in
                fired.count.add(1, ordering: .relaxed)
            }
            try await Self.eventually("the near sleeper of round \(round)") { clock.sleepers == 2 }
            clock.advance(by: .seconds(1))
            try await Self.eventually("round \(round) fired") { fired.count.load(ordering: .relaxed) == round }
            // Only the far sleeper is left: the one that fired made no new one for 600 s.
            try await Self.eventually("back to the far sleeper after round \(round)") { clock.sleepers == 1 }
        }
        #expect(fired.count.load(ordering: .relaxed) == 50)
        loop.cancel()
        await loop.value
        try await Self.eventually("no sleeper after cancel") { clock.sleepers == 0 }
    }
}

import Synchronization
import Testing

@testable import IMSClient

/// ``UpstreamLimiter`` with a ``SharedUpstreamBudget`` (docs/ARCHITECTURE.md, "Shared budgets"),
/// on a ``SleepingTestClock``. The shared budget here is a token bucket on the same clock, as
/// the store keeps it on the database's (the store's own statements are tested against a real
/// PostgreSQL in GatewayStoreTests, and two gateway processes in IMSGatewayTests' replica
/// tests); this suite checks the limiter's side: every grant takes a shared token, the local
/// fair order is kept, deadlines are refused early, 429 pauses are shared, and the fallback
/// share while the budget cannot be reached.
@Suite("UpstreamLimiter with a shared budget", .timeLimit(.minutes(1)))
struct UpstreamLimiterSharedTests {
    typealias Limiter = UpstreamLimiterTests.Limiter
    typealias Outcome = UpstreamLimiterTests.Outcome

    /// A shared bucket on the test clock; `reachable` false makes every take throw.
    final class TestBudget: SharedUpstreamBudget {
        struct Unreachable: Error {}
        private let clock: SleepingTestClock
        private let bucket: Mutex<TokenBucket<SleepingTestClock.Instant>>
        private let state = Mutex((reachable: true, takes: 0, pauses: [Duration]()))
        let fallbackShare: Double

        init(rate: Double, burst: Int, clock: SleepingTestClock, fallbackShare: Double = 1) {
            self.clock = clock
            bucket = Mutex(TokenBucket(rate: rate, burst: burst, now: clock.now))
            self.fallbackShare = fallbackShare
        }

        func take() async throws -> Duration? {
            let reachable = state.withLock { state -> Bool in
                state.takes += 1
                return state.reachable
            }
            guard reachable else { throw Unreachable() }
            switch bucket.withLock({ $0.take(now: clock.now) }) {
            case .admitted: return nil
            case .refused(let retryAfter): return retryAfter
            }
        }

        func pause(for duration: Duration) async {
            state.withLock { $0.pauses.append(duration) }
        }

        var takes: Int { state.withLock { $0.takes } }
        var pauses: [Duration] { state.withLock { $0.pauses } }
        func setReachable(_ reachable: Bool) { state.withLock { $0.reachable = reachable } }
    }

    /// Callers settled so far.
    final class Settled: Sendable {
        private let count = Mutex(0)
        var value: Int { count.withLock { $0 } }
        func add() { count.withLock { $0 += 1 } }
    }

    /// Calls `acquire` on `limiter` in a task; the outcome is counted in `settled` when it comes.
    static func start(
        _ limiter: Limiter, _ clock: SleepingTestClock, _ priority: UpstreamPriority, settled: Settled,
        deadline: UpstreamLimiterTests.Instant = UpstreamLimiterTests.later
    ) -> Task<Outcome, Never> {
        Task {
            let outcome = await UpstreamLimiterTests.acquire(limiter, clock, priority, deadline: deadline)
            settled.add()
            return outcome
        }
    }

    /// The instants the tasks that were granted got their token.
    static func grants(_ tasks: [Task<Outcome, Never>]) async -> [UpstreamLimiterTests.Instant] {
        var grants: [UpstreamLimiterTests.Instant] = []
        for task in tasks {
            if case .granted(let at) = await task.settled { grants.append(at) }
        }
        return grants
    }

    /// Moves the clock from one dispatcher wake-up to the next until all `count` callers
    /// settled: each step waits until every caller is either queued or has read the clock
    /// after its answer, and every limiter with callers queued has its dispatcher asleep.
    static func run(until count: Int, settled: Settled, limiters: [Limiter], clock: SleepingTestClock) async {
        while settled.value < count, !Task.isCancelled {
            let ready = await UpstreamLimiterTests.eventually("the dispatchers sleep") {
                let queued = limiters.map(\.waiting.total).reduce(0, +)
                guard settled.value + queued == count else { return false }
                return settled.value >= count
                    || (clock.sleeperCount > 0 && clock.sleeperCount == limiters.filter { $0.waiting.total > 0 }.count)
            }
            guard ready, settled.value < count, let next = clock.sleeperDeadlines.first else { continue }
            clock.advance(to: next)
        }
    }

    @Test("two limiters on one shared budget of rate 1/s burst 2: six callers get the budget's instants 0, 0, 1, 2, 3, 4 s between them")
    func twoReplicasOneBudget() async throws {
        let clock = SleepingTestClock()
        let budget = TestBudget(rate: 1, burst: 2, clock: clock)
        // Each limiter alone would allow burst 10 at 10/s.
        let a = Limiter(rate: 10, burst: 10, clock: clock, shared: budget)
        let b = Limiter(rate: 10, burst: 10, clock: clock, shared: budget)
        let settled = Settled()
        let tasks = (0..<6).map { index in Self.start(index.isMultiple(of: 2) ? a : b, clock, .submit, settled: settled) }
        await Self.run(until: 6, settled: settled, limiters: [a, b], clock: clock)
        let grants = await Self.grants(tasks)
        #expect(grants.sorted() == [0, 0, 1, 2, 3, 4].map { UpstreamLimiterTests.at(.seconds($0)) })
    }

    @Test("with a shared budget the local fair order holds: a poll queued after a submit gets the next shared token first")
    func fairOrderKept() async throws {
        let clock = SleepingTestClock()
        let budget = TestBudget(rate: 1, burst: 1, clock: clock)
        let limiter = Limiter(rate: 10, burst: 10, clock: clock, shared: budget)
        let settled = Settled()
        // The one shared token goes to the first caller; the next comes at 1 s.
        let first = Self.start(limiter, clock, .submit, settled: settled)
        #expect(await first.settled == .granted(at: UpstreamLimiterTests.at(.zero)))
        let submit = await UpstreamLimiterTests.queue(limiter, clock, .submit)
        let poll = await UpstreamLimiterTests.queue(limiter, clock, .poll)
        await clock.waitForSleepers(1)
        clock.advance(to: UpstreamLimiterTests.at(.seconds(1)))
        #expect(await poll.settled == .granted(at: UpstreamLimiterTests.at(.seconds(1))))
        await clock.waitForSleepers(1)
        clock.advance(to: UpstreamLimiterTests.at(.seconds(2)))
        #expect(await submit.settled == .granted(at: UpstreamLimiterTests.at(.seconds(2))))
    }

    @Test("a caller whose deadline comes before the shared budget's next token is refused at once, not at its deadline")
    func deadlineBeforeSharedToken() async throws {
        let clock = SleepingTestClock()
        let budget = TestBudget(rate: 0.1, burst: 1, clock: clock)
        let limiter = Limiter(rate: 10, burst: 10, clock: clock, shared: budget)
        let settled = Settled()
        #expect(await Self.start(limiter, clock, .submit, settled: settled).settled == .granted(at: UpstreamLimiterTests.at(.zero)))
        // The next shared token comes at 10 s.
        let late = Self.start(limiter, clock, .submit, settled: settled, deadline: UpstreamLimiterTests.at(.seconds(5)))
        #expect(await late.settled == .refused(.deadline, at: UpstreamLimiterTests.at(.zero)))
    }

    @Test("after the shared budget said 'not before 10 s', a caller that arrives at 1 s with a deadline at 5 s is refused as it arrives")
    func arrivalAfterSharedRefusal() async throws {
        let clock = SleepingTestClock()
        let budget = TestBudget(rate: 0.1, burst: 1, clock: clock)
        let limiter = Limiter(rate: 10, burst: 10, clock: clock, shared: budget)
        let settled = Settled()
        #expect(await Self.start(limiter, clock, .submit, settled: settled).settled == .granted(at: UpstreamLimiterTests.at(.zero)))
        // Queued until the shared token at 10 s; the dispatcher sleeps until then.
        let patient = Self.start(limiter, clock, .submit, settled: settled)
        await clock.waitForSleepers(1)
        clock.advance(to: UpstreamLimiterTests.at(.seconds(1)), wakingSleepers: false)
        let late = Self.start(limiter, clock, .poll, settled: settled, deadline: UpstreamLimiterTests.at(.seconds(5)))
        #expect(await late.settled == .refused(.deadline, at: UpstreamLimiterTests.at(.seconds(1))))
        clock.advance(to: UpstreamLimiterTests.at(.seconds(10)))
        #expect(await patient.settled == .granted(at: UpstreamLimiterTests.at(.seconds(10))))
    }

    @Test("an IMS 429 pauses this limiter and is handed to the shared budget with its length")
    func pauseShared() async throws {
        let clock = SleepingTestClock()
        let budget = TestBudget(rate: 1, burst: 1, clock: clock)
        let limiter = Limiter(rate: 10, burst: 10, clock: clock, shared: budget)
        limiter.pause(until: UpstreamLimiterTests.at(.seconds(30)))
        #expect(limiter.pausedUntil == UpstreamLimiterTests.at(.seconds(30)))
        await UpstreamLimiterTests.eventually("the pause reaches the shared budget") { budget.pauses == [.seconds(30)] }
    }

    @Test("while the shared budget cannot be reached, a replica that saw 2 alive grants from half the budget (rate 1/s, burst 1 of 2/s, 2), then takes shared tokens again")
    func fallbackShare() async throws {
        let clock = SleepingTestClock()
        let budget = TestBudget(rate: 100, burst: 100, clock: clock, fallbackShare: 0.5)
        budget.setReachable(false)
        let limiter = Limiter(rate: 2, burst: 2, clock: clock, shared: budget)
        let settled = Settled()
        let tasks = (0..<3).map { _ in Self.start(limiter, clock, .submit, settled: settled) }
        await Self.run(until: 3, settled: settled, limiters: [limiter], clock: clock)
        let grants = await Self.grants(tasks)
        #expect(grants.sorted() == [0, 1, 2].map { UpstreamLimiterTests.at(.seconds($0)) })

        // Reachable again: the next call takes a shared token (the fallback lasts at most 1 s).
        budget.setReachable(true)
        clock.advance(by: .seconds(1))
        let takesBefore = budget.takes
        let again = Self.start(limiter, clock, .submit, settled: settled)
        #expect(await again.settled == .granted(at: clock.now))
        #expect(budget.takes == takesBefore + 1)
    }
}

import Synchronization
import Testing

@testable import IMSClient

/// Every test runs on a ``SleepingTestClock``: time moves only when the test advances it, the test
/// waits for the dispatcher to go to sleep instead of sleeping itself, and grant instants are
/// compared exactly (to the attosecond).
/// A limiter that never answers fails a test by its time limit (which cancels every wait of the
/// test) rather than hanging the run.
@Suite("UpstreamLimiter", .timeLimit(.minutes(1)))
struct UpstreamLimiterTests {
    typealias Limiter = UpstreamLimiter<SleepingTestClock>
    typealias Instant = SleepingTestClock.Instant

    /// How one `acquire` ended, and the clock's reading then.
    enum Outcome: Equatable, CustomStringConvertible {
        case granted(at: Instant)
        case refused(Limiter.Refusal, at: Instant)

        var description: String {
            switch self {
            case .granted(let at): "granted at \(at)"
            case .refused(let refusal, let at): "refused (\(refusal)) at \(at)"
            }
        }
    }

    static let attosecondsPerSecond: Int128 = 1_000_000_000_000_000_000

    /// The instant `duration` after the clock's origin.
    static func at(_ duration: Duration) -> Instant { SleepingTestClock.at(duration) }

    /// A deadline no test reaches.
    static let later = at(.seconds(1_000))

    /// Calls `acquire` and reports how it ended, read on `clock` right after.
    static func acquire(
        _ limiter: Limiter, _ clock: SleepingTestClock, _ priority: Limiter.Priority, deadline: Instant = later,
        caller: UpstreamCaller = .gateway
    ) async -> Outcome {
        do {
            try await limiter.acquire(priority: priority, caller: caller, deadline: deadline)
            return .granted(at: clock.now)
        } catch {
            return .refused(error, at: clock.now)
        }
    }

    /// Starts a caller and returns once it is queued, so that callers queue in the order the test
    /// starts them.
    static func queue(
        _ limiter: Limiter, _ clock: SleepingTestClock, _ priority: Limiter.Priority, deadline: Instant = later,
        caller: UpstreamCaller = .gateway, sourceLocation: SourceLocation = #_sourceLocation
    ) async -> Task<Outcome, Never> {
        // Counted by priority: a caller that queues may push a waiter of another priority out.
        func queued() -> Int {
            let waiting = limiter.waiting
            switch priority {
            case .poll: return waiting.polls
            case .submit: return waiting.submits
            case .backgroundPoll: return waiting.backgroundPolls
            }
        }
        let before = queued()
        let task = Task { await acquire(limiter, clock, priority, deadline: deadline, caller: caller) }
        await eventually("the caller queues", sourceLocation: sourceLocation) { queued() == before + 1 }
        return task
    }

    /// Yields until `condition` holds (other tasks run meanwhile; nothing sleeps); records an
    /// issue if it never does.
    @discardableResult
    static func eventually(
        _ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () -> Bool
    ) async -> Bool {
        for _ in 0..<1_000_000 where !Task.isCancelled {
            if condition() { return true }
            await Task.yield()
        }
        Issue.record("never happened: \(comment)", sourceLocation: sourceLocation)
        return false
    }

    /// Advances the clock to the dispatcher's wake-up, which must be `expected`, after checking
    /// that one attosecond earlier wakes nobody.
    static func advanceToNextGrant(
        _ clock: SleepingTestClock, expected: Instant, sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        await clock.waitForSleepers(1)
        #expect(clock.sleeperDeadlines == [expected], sourceLocation: sourceLocation)
        clock.advance(to: expected.advanced(by: Duration(attoseconds: -1)))
        #expect(clock.sleeperCount == 1, sourceLocation: sourceLocation)
        clock.advance(to: expected)
    }

    // MARK: - Bucket timing

    @Test("burst 5, rate 2/s: five calls at once, the 6th exactly 0.5 s later, the 7th at 1.0 s")
    func burstThenRate() async throws {
        let clock = SleepingTestClock()
        let limiter = Limiter(rate: 2, burst: 5, clock: clock)
        for _ in 0..<5 {
            try await limiter.acquire(priority: .submit, deadline: Self.later)
        }
        #expect(clock.now == Self.at(.zero))
        #expect(clock.sleeperCount == 0)

        let sixth = await Self.queue(limiter, clock, .submit)
        let seventh = await Self.queue(limiter, clock, .submit)
        #expect(limiter.waiting == .init(polls: 0, submits: 2))

        await Self.advanceToNextGrant(clock, expected: Self.at(.milliseconds(500)))
        #expect(await sixth.settled == .granted(at: Self.at(.milliseconds(500))))
        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(1)))
        #expect(await seventh.settled == .granted(at: Self.at(.seconds(1))))
        #expect(limiter.waiting == .init(polls: 0, submits: 0))
        // With nobody left the dispatcher ends instead of sleeping.
        await Self.eventually("the dispatcher ends") { clock.sleeperCount == 0 }
    }

    @Test("20 concurrent callers at 9/s, burst 5: each token at its exact instant, never more than burst + rate × t")
    func concurrentExactInstants() async {
        let clock = SleepingTestClock()
        let limiter = Limiter(rate: 9, burst: 5, clock: clock)
        let grants = Locked<[Instant]>([])
        let tasks = (0..<20).map { _ in
            Task {
                let outcome = await Self.acquire(limiter, clock, .submit)
                if case .granted(let at) = outcome { grants.withLock { $0.append(at) } }
            }
        }
        await Self.eventually("5 served at once, 15 queued") {
            grants.withLock { $0.count } == 5 && limiter.waiting.submits == 15
        }

        // The k-th token after the burst is complete at k/9 s, rounded up to the attosecond.
        var expected = Array(repeating: Self.at(.zero), count: 5)
        for k in 1...15 {
            let due = Self.at(Duration(attoseconds: (Int128(k) * Self.attosecondsPerSecond + 8) / 9))
            await Self.advanceToNextGrant(clock, expected: due)
            await Self.eventually("grant \(5 + k)") { grants.withLock { $0.count } == 5 + k }
            expected.append(due)

            // Exactly burst + floor(rate × t) by t; one attosecond earlier (when the test checked
            // that nobody woke) one less, which is that bound then: never more, never fewer.
            let t = due.offset.attoseconds
            #expect(grants.withLock { $0.count } == 5 + Int(9 * t / Self.attosecondsPerSecond))
            #expect(5 + k - 1 == 5 + Int(9 * (t - 1) / Self.attosecondsPerSecond))
        }
        for task in tasks { await task.settled }
        #expect(grants.withLock { $0 }.sorted() == expected)
    }

    @Test("clock advanced in coarse steps: by each step t, exactly min(callers, burst + floor(rate × t)) served")
    func concurrentCoarseSteps() async {
        let clock = SleepingTestClock()
        let limiter = Limiter(rate: 9, burst: 5, clock: clock)
        let granted = Locked(0)
        let tasks = (0..<20).map { _ in
            Task {
                if case .granted = await Self.acquire(limiter, clock, .submit) { granted.withLock { $0 += 1 } }
            }
        }
        await Self.eventually("5 served at once, 15 queued") {
            granted.withLock { $0 } == 5 && limiter.waiting.submits == 15
        }
        for step in 1...20 {
            // 0.13 s per step: token instants fall between steps, several in some steps.
            clock.advance(by: .milliseconds(130))
            let allowed = min(20, 5 + Int(9 * clock.now.offset.attoseconds / Self.attosecondsPerSecond))
            await Self.eventually("step \(step): \(allowed) served") { granted.withLock { $0 } == allowed }
            if allowed < 20 {
                // The dispatcher is asleep again, so nothing more is granted until the next step.
                await clock.waitForSleepers(1)
                #expect(granted.withLock { $0 } == allowed)
                #expect(limiter.waiting.submits == 20 - allowed)
            }
        }
        for task in tasks { await task.settled }
    }

    // MARK: - Priority

    @Test("each new token goes to a queued poll before any submit; first in first out within a priority")
    func pollsBeforeSubmits() async throws {
        let clock = SleepingTestClock()
        let limiter = Limiter(rate: 1, burst: 1, clock: clock)
        try await limiter.acquire(priority: .submit, deadline: Self.later)

        let submit1 = await Self.queue(limiter, clock, .submit)
        let submit2 = await Self.queue(limiter, clock, .submit)
        let poll1 = await Self.queue(limiter, clock, .poll)
        let poll2 = await Self.queue(limiter, clock, .poll)
        #expect(limiter.waiting == .init(polls: 2, submits: 2))

        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(1)))
        #expect(await poll1.settled == .granted(at: Self.at(.seconds(1))))
        // A poll arriving later still goes before the submits queued earlier.
        let poll3 = await Self.queue(limiter, clock, .poll)
        #expect(limiter.waiting == .init(polls: 2, submits: 2))

        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(2)))
        #expect(await poll2.settled == .granted(at: Self.at(.seconds(2))))
        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(3)))
        #expect(await poll3.settled == .granted(at: Self.at(.seconds(3))))
        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(4)))
        #expect(await submit1.settled == .granted(at: Self.at(.seconds(4))))
        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(5)))
        #expect(await submit2.settled == .granted(at: Self.at(.seconds(5))))
        #expect(limiter.waiting == .init(polls: 0, submits: 0))
    }

    @Test("a call never takes a token past queued waiters, even when the dispatcher wakes late; a poll still goes first")
    func noFastPathPastWaiters() async throws {
        let clock = SleepingTestClock()
        let limiter = Limiter(rate: 1, burst: 2, clock: clock)
        try await limiter.acquire(priority: .submit, deadline: Self.later)
        try await limiter.acquire(priority: .submit, deadline: Self.later)
        let submit = await Self.queue(limiter, clock, .submit)
        // The dispatcher is due at 1 s; a poll arriving at that very instant, before the
        // dispatcher runs (it woke late), queues instead of taking the token, and gets it first.
        await clock.waitForSleepers(1)
        clock.advance(to: Self.at(.seconds(1)), wakingSleepers: false)
        let poll = await Self.queue(limiter, clock, .poll)
        #expect(limiter.waiting == .init(polls: 1, submits: 1))
        clock.advance(to: Self.at(.seconds(1)))
        #expect(await poll.settled == .granted(at: Self.at(.seconds(1))))
        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(2)))
        #expect(await submit.settled == .granted(at: Self.at(.seconds(2))))
    }

    // MARK: - Deadlines

    @Test("a waiter whose turn is after its deadline is refused at once; the others keep their order and times")
    func deadlines() async {
        let clock = SleepingTestClock()
        let limiter = Limiter(rate: 1, burst: 1, clock: clock)
        #expect(await Self.acquire(limiter, clock, .submit) == .granted(at: Self.at(.zero)))

        let a = await Self.queue(limiter, clock, .submit, deadline: Self.at(.seconds(10)))  // turn 1 s
        // Turn 2 s, deadline 1.5 s: certain at once.
        let b = await Self.acquire(limiter, clock, .submit, deadline: Self.at(.milliseconds(1500)))
        #expect(b == .refused(.deadline, at: Self.at(.zero)))
        let c = await Self.queue(limiter, clock, .submit, deadline: Self.at(.seconds(2)))  // turn 2 s, just in time
        let d = await Self.queue(limiter, clock, .submit, deadline: Self.at(.seconds(10)))  // turn 3 s
        let e = await Self.queue(limiter, clock, .submit, deadline: Self.at(.seconds(4)))  // turn 4 s
        #expect(limiter.waiting == .init(polls: 0, submits: 4))

        // A poll goes first and pushes every submit one token later: c's turn becomes 3 s, after
        // its deadline, so c is refused right away; d and e move into its place and keep theirs.
        let poll = await Self.queue(limiter, clock, .poll, deadline: Self.at(.seconds(10)))
        #expect(await c.settled == .refused(.deadline, at: Self.at(.zero)))
        #expect(limiter.waiting == .init(polls: 1, submits: 3))

        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(1)))
        #expect(await poll.settled == .granted(at: Self.at(.seconds(1))))
        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(2)))
        #expect(await a.settled == .granted(at: Self.at(.seconds(2))))
        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(3)))
        #expect(await d.settled == .granted(at: Self.at(.seconds(3))))
        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(4)))
        #expect(await e.settled == .granted(at: Self.at(.seconds(4))))
    }

    @Test("a deadline already passed is refused at once, even with tokens; a deadline of now is met")
    func deadlineAlreadyPassed() async {
        let clock = SleepingTestClock(now: Self.at(.seconds(10)))
        let limiter = Limiter(rate: 1, burst: 3, clock: clock)
        let justPassed = Self.at(.seconds(10)).advanced(by: Duration(attoseconds: -1))
        #expect(await Self.acquire(limiter, clock, .poll, deadline: justPassed) == .refused(.deadline, at: clock.now))
        #expect(await Self.acquire(limiter, clock, .submit, deadline: clock.now) == .granted(at: clock.now))
        #expect(limiter.waiting == .init(polls: 0, submits: 0))
        #expect(clock.sleeperCount == 0)
    }

    @Test("a dispatcher that wakes after a waiter's deadline refuses it and gives its token to the next")
    func deadlinePassedWhileQueued() async {
        let clock = SleepingTestClock()
        let limiter = Limiter(rate: 1, burst: 1, clock: clock)
        #expect(await Self.acquire(limiter, clock, .submit) == .granted(at: Self.at(.zero)))
        let first = await Self.queue(limiter, clock, .submit, deadline: Self.at(.milliseconds(1500)))  // turn 1 s
        let second = await Self.queue(limiter, clock, .submit)  // turn 2 s
        await clock.waitForSleepers(1)
        // The clock jumps past the first waiter's deadline before the dispatcher runs.
        clock.advance(to: Self.at(.seconds(2)))
        #expect(await first.settled == .refused(.deadline, at: Self.at(.seconds(2))))
        #expect(await second.settled == .granted(at: Self.at(.seconds(2))))
    }

    // MARK: - Pause

    @Test("pause holds every waiter until its end, refuses at once the deadlines inside it, then one token only")
    func pause() async {
        let clock = SleepingTestClock()
        let limiter = Limiter(rate: 2, burst: 5, clock: clock)
        #expect(limiter.pausedUntil == nil)
        limiter.pause(until: Self.at(.seconds(2)))
        #expect(limiter.pausedUntil == Self.at(.seconds(2)))
        // A shorter pause does not shorten it.
        limiter.pause(until: Self.at(.seconds(1)))
        #expect(limiter.pausedUntil == Self.at(.seconds(2)))

        // The bucket is full, but nothing is granted during the pause.
        let w1 = await Self.queue(limiter, clock, .submit, deadline: Self.at(.seconds(10)))  // turn 2 s
        #expect(
            await Self.acquire(limiter, clock, .submit, deadline: Self.at(.seconds(1)))
                == .refused(.deadline, at: Self.at(.zero)))
        let w3 = await Self.queue(limiter, clock, .poll, deadline: Self.at(.milliseconds(2400)))  // turn 2 s, w1 2.5 s
        // Turn 3 s (one token at the end of the pause, then 2/s), deadline 2.6 s.
        #expect(
            await Self.acquire(limiter, clock, .submit, deadline: Self.at(.milliseconds(2600)))
                == .refused(.deadline, at: Self.at(.zero)))
        let w5 = await Self.queue(limiter, clock, .submit, deadline: Self.at(.seconds(10)))  // turn 3 s
        #expect(limiter.waiting == .init(polls: 1, submits: 2))
        await clock.waitForSleepers(1)
        #expect(clock.sleeperDeadlines == [Self.at(.seconds(2))])

        // A longer pause extends it and refuses, right then, w3 whose deadline it passes.
        limiter.pause(until: Self.at(.milliseconds(2500)))
        #expect(limiter.pausedUntil == Self.at(.milliseconds(2500)))
        #expect(await w3.settled == .refused(.deadline, at: Self.at(.zero)))
        #expect(limiter.waiting == .init(polls: 0, submits: 2))

        // The dispatcher planned for the first pause's end; it wakes then and sleeps on.
        clock.advance(to: Self.at(.seconds(2)))
        #expect(limiter.pausedUntil == Self.at(.milliseconds(2500)))

        // After the pause one token only, though the bucket filled to 5 meanwhile.
        await Self.advanceToNextGrant(clock, expected: Self.at(.milliseconds(2500)))
        #expect(await w1.settled == .granted(at: Self.at(.milliseconds(2500))))
        #expect(limiter.pausedUntil == nil)
        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(3)))
        #expect(await w5.settled == .granted(at: Self.at(.seconds(3))))
    }

    @Test("after a pause an idle full bucket gives one call at once, then the rate")
    func pauseRestartsWithOneToken() async {
        let clock = SleepingTestClock()
        let limiter = Limiter(rate: 4, burst: 10, clock: clock)
        limiter.pause(until: Self.at(.seconds(1)))
        clock.advance(to: Self.at(.seconds(5)))
        #expect(limiter.pausedUntil == nil)
        // Four seconds after the pause's end: one token kept at 1 s plus 4/s × 4 s, up to burst.
        for _ in 0..<10 {
            #expect(await Self.acquire(limiter, clock, .submit) == .granted(at: Self.at(.seconds(5))))
        }

        // A pause whose end has already passed only takes the bucket down to one token.
        clock.advance(to: Self.at(.seconds(8)))
        limiter.pause(until: Self.at(.seconds(7)))
        #expect(limiter.pausedUntil == nil)
        #expect(await Self.acquire(limiter, clock, .poll) == .granted(at: Self.at(.seconds(8))))
        let next = await Self.queue(limiter, clock, .poll)
        await Self.advanceToNextGrant(clock, expected: Self.at(.milliseconds(8250)))
        #expect(await next.settled == .granted(at: Self.at(.milliseconds(8250))))

        // Less than one token at the end of a pause is kept as it is, not rounded up to one.
        limiter.pause(until: Self.at(.milliseconds(8300)))
        let afterPause = await Self.queue(limiter, clock, .poll)
        await Self.advanceToNextGrant(clock, expected: Self.at(.milliseconds(8500)))
        #expect(await afterPause.settled == .granted(at: Self.at(.milliseconds(8500))))
    }

    @Test("a pause with waiters but no dispatcher running yet: waiters held, then served one by one")
    func pauseWithBurstOfCallers() async {
        let clock = SleepingTestClock()
        let limiter = Limiter(rate: 2, burst: 5, clock: clock)
        limiter.pause(until: Self.at(.seconds(2)))
        let tasks = (0..<3).map { _ in Task { await Self.acquire(limiter, clock, .poll) } }
        await Self.eventually("three queued") { limiter.waiting.polls == 3 }
        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(2)))
        await Self.advanceToNextGrant(clock, expected: Self.at(.milliseconds(2500)))
        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(3)))
        var grants: [Instant] = []
        for task in tasks {
            if case .granted(let at) = await task.settled { grants.append(at) }
        }
        #expect(grants.sorted() == [Self.at(.seconds(2)), Self.at(.milliseconds(2500)), Self.at(.seconds(3))])
    }

    // MARK: - Cancellation

    @Test("a cancelled waiter throws .cancelled and the next waiter gets the token it would have had")
    func cancellation() async {
        let clock = SleepingTestClock()
        let limiter = Limiter(rate: 1, burst: 1, clock: clock)
        #expect(await Self.acquire(limiter, clock, .submit) == .granted(at: Self.at(.zero)))
        let a = await Self.queue(limiter, clock, .submit)  // turn 1 s
        let b = await Self.queue(limiter, clock, .submit)  // turn 2 s
        let c = await Self.queue(limiter, clock, .submit)  // turn 3 s
        let d = await Self.queue(limiter, clock, .submit)  // turn 4 s

        a.cancel()
        #expect(await a.settled == .refused(.cancelled, at: Self.at(.zero)))
        c.cancel()
        #expect(await c.settled == .refused(.cancelled, at: Self.at(.zero)))
        #expect(limiter.waiting == .init(polls: 0, submits: 2))

        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(1)))
        #expect(await b.settled == .granted(at: Self.at(.seconds(1))))
        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(2)))
        #expect(await d.settled == .granted(at: Self.at(.seconds(2))))
        #expect(limiter.waiting == .init(polls: 0, submits: 0))
    }

    @Test("a task cancelled before it calls acquire is refused at once, even with tokens")
    func cancelledBeforeAcquire() async {
        let clock = SleepingTestClock()
        let limiter = Limiter(rate: 1, burst: 5, clock: clock)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await Self.acquire(limiter, clock, .poll)
        }
        #expect(await task.settled == .refused(.cancelled, at: Self.at(.zero)))
        // The token was not spent: five more calls go at once.
        for _ in 0..<5 {
            #expect(await Self.acquire(limiter, clock, .submit) == .granted(at: Self.at(.zero)))
        }
    }

    @Test("the last waiter cancelled: the dispatcher serves a later caller on time, or ends at its wake-up")
    func cancelLastWaiter() async {
        let clock = SleepingTestClock()
        let limiter = Limiter(rate: 1, burst: 1, clock: clock)
        #expect(await Self.acquire(limiter, clock, .poll) == .granted(at: Self.at(.zero)))
        let only = await Self.queue(limiter, clock, .poll)
        await clock.waitForSleepers(1)
        only.cancel()
        #expect(await only.settled == .refused(.cancelled, at: Self.at(.zero)))
        #expect(limiter.waiting == .init(polls: 0, submits: 0))

        // A caller arriving before that wake-up is served by the same dispatcher, on time.
        let next = await Self.queue(limiter, clock, .submit)
        #expect(clock.sleeperDeadlines == [Self.at(.seconds(1))])
        await Self.advanceToNextGrant(clock, expected: Self.at(.seconds(1)))
        #expect(await next.settled == .granted(at: Self.at(.seconds(1))))

        // Cancelled again: the dispatcher wakes at 2 s, finds nobody and ends.
        let last = await Self.queue(limiter, clock, .submit)
        await clock.waitForSleepers(1)
        last.cancel()
        #expect(await last.settled == .refused(.cancelled, at: Self.at(.seconds(1))))
        await clock.waitForSleepers(1)
        clock.advance(to: Self.at(.seconds(2)))
        await Self.eventually("the dispatcher ends") { clock.sleeperCount == 0 }
        #expect(await Self.acquire(limiter, clock, .submit) == .granted(at: Self.at(.seconds(2))))
    }

    // MARK: - Stress

    /// SplitMix64: a seeded generator, so that a failing run can be repeated.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test(
        "1,000 callers, random priorities, deadlines, cancellations, pauses: each ends once, never over budget",
        arguments: [UInt64(1), 2, 3])
    func stress(seed: UInt64) async {
        var random = SeededGenerator(state: seed)
        let clock = SleepingTestClock()
        let (rate, burst, callers) = (50, 10, 1_000)
        let limiter = Limiter(rate: Double(rate), burst: burst, clock: clock)

        let plan = (0..<callers).map { _ in
            PlannedCaller(
                priority: Bool.random(using: &random) ? .poll : .submit,
                // From 1 s in the past to 25 s ahead, by the millisecond; 1,000 calls take 19.8 s.
                deadline: Self.at(.milliseconds(Int.random(in: -1_000...25_000, using: &random))))
        }
        let outcomes = Locked<[Int: Outcome]>([:])
        let ended = Locked(0)
        let tasks = plan.enumerated().map { index, caller in
            Task {
                let outcome = await Self.acquire(limiter, clock, caller.priority, deadline: caller.deadline)
                let first = outcomes.withLock { $0.updateValue(outcome, forKey: index) == nil }
                #expect(first, "caller \(index) ended twice")
                ended.withLock { $0 += 1 }
                return outcome
            }
        }

        /// Every caller has either ended (and recorded it) or is queued, and the dispatcher is
        /// asleep (or gone, with nobody queued): nothing more happens until the clock moves.
        func quiescent() -> Bool {
            let endedCount = ended.withLock { $0 }
            let queued = limiter.waiting
            return endedCount + queued.total == callers && (queued.total == 0 || clock.sleeperCount >= 1)
        }

        await Self.eventually("every caller served at once, refused or queued") { quiescent() }
        let step = Duration.milliseconds(37)
        var cancelled = 0
        while clock.now < Self.at(.seconds(27)) {
            let submitsGrantedBefore = outcomes.withLock { Self.grantedSubmits(in: $0, plan: plan) }
            clock.advance(by: step)
            if Int.random(in: 0..<100, using: &random) < 2 {
                limiter.pause(until: clock.now.advanced(by: .milliseconds(Int.random(in: 0...1_500, using: &random))))
            }
            if Int.random(in: 0..<100, using: &random) < 10 {
                tasks[Int.random(in: 0..<callers, using: &random)].cancel()
                cancelled += 1
            }
            guard await Self.eventually("quiescent at \(clock.now)", { quiescent() }) else { break }

            let now = clock.now
            let (granted, submitsGranted) = outcomes.withLock { outcomes in
                (
                    outcomes.values.filter { if case .granted = $0 { true } else { false } }.count,
                    Self.grantedSubmits(in: outcomes, plan: plan)
                )
            }
            // Never more than burst + rate × t by t.
            #expect(
                Int128(granted - burst) * Self.attosecondsPerSecond <= Int128(rate) * now.offset.attoseconds,
                "\(granted) granted by \(now)")
            // A submit got a token in this step only if no poll was left waiting for one.
            if submitsGranted > submitsGrantedBefore { #expect(limiter.waiting.polls == 0, "at \(now)") }
        }

        var counts = (granted: 0, deadline: 0, cancelled: 0)
        for (index, task) in tasks.enumerated() {
            let outcome = await task.settled
            #expect(outcomes.withLock { $0[index] } == outcome)
            switch outcome {
            case .granted(let at):
                counts.granted += 1
                #expect(at <= plan[index].deadline, "caller \(index) granted after its deadline")
            case .refused(.deadline, _):
                counts.deadline += 1
            case .refused(.cancelled, _):
                counts.cancelled += 1
            }
        }
        #expect(counts.granted + counts.deadline + counts.cancelled == callers)
        #expect(counts.granted > 0 && counts.deadline > 0 && counts.cancelled > 0)
        #expect(counts.cancelled <= cancelled)
        #expect(limiter.waiting == .init(polls: 0, submits: 0))
        // The dispatcher may still sleep until the next token it planned for; then it ends.
        clock.advance(by: .seconds(60))
        await Self.eventually("the dispatcher ends") { clock.sleeperCount == 0 }
    }

    /// A caller of the stress test.
    struct PlannedCaller {
        let priority: Limiter.Priority
        let deadline: Instant
    }

    /// Submits granted so far.
    static func grantedSubmits(in outcomes: [Int: Outcome], plan: [PlannedCaller]) -> Int {
        outcomes.count { entry in
            if case .granted = entry.value, plan[entry.key].priority == .submit { true } else { false }
        }
    }

    /// State shared by a test and the tasks it starts.
    final class Locked<Value: Sendable>: Sendable {
        private let mutex: Mutex<Value>

        init(_ value: Value) {
            mutex = Mutex(value)
        }

        func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result {
            mutex.withLock { body(&$0) }
        }
    }

    // MARK: - The test clock itself

    @Test("the test clock wakes a sleeper only when advanced to its deadline, and honours cancellation")
    func testClock() async throws {
        let clock = SleepingTestClock()
        let woke = Task { try await clock.sleep(until: SleepingTestClock.at(.seconds(1))) }
        await clock.waitForSleepers(1)
        clock.advance(by: .milliseconds(999))
        #expect(clock.sleeperCount == 1)
        clock.advance(by: .milliseconds(1))
        #expect(clock.sleeperCount == 0)
        try await woke.value

        let cancelled = Task { try await clock.sleep(until: SleepingTestClock.at(.seconds(5))) }
        await clock.waitForSleepers(1)
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(clock.sleeperCount == 0)
        // A deadline already reached returns at once.
        try await clock.sleep(until: clock.now)
    }
}

extension Task where Failure == Never {
    /// The task's value; cancelling the task that waits for it (as the test's time limit does)
    /// cancels this one too, so that a limiter that never answers fails the test instead of
    /// hanging it.
    var settled: Success {
        get async {
            await withTaskCancellationHandler {
                await value
            } onCancel: {
                cancel()
            }
        }
    }
}

import Testing

@testable import IMSClient

/// The order of ``UpstreamLimiter``'s tokens between clients and priorities, on a
/// ``SleepingTestClock``: every grant is checked at its exact instant, and with rate 1 the k-th
/// queued grant is due at k seconds.
@Suite("UpstreamLimiter fair share", .timeLimit(.minutes(1)))
struct UpstreamLimiterFairShareTests {
    typealias Limiter = UpstreamLimiterTests.Limiter
    typealias Outcome = UpstreamLimiterTests.Outcome

    static let a = UpstreamCaller(client: "a")
    static let b = UpstreamCaller(client: "b")

    /// A limiter of rate 1 and burst 1 whose one token is already taken.
    static func drained(_ clock: SleepingTestClock) async throws -> Limiter {
        let limiter = Limiter(rate: 1, burst: 1, clock: clock)
        try await limiter.acquire(priority: .submit, deadline: UpstreamLimiterTests.later)
        return limiter
    }

    /// Advances to each second in turn and checks that `order[k - 1]` got the token due at k s.
    static func expectGrants(
        _ order: [Task<Outcome, Never>], _ clock: SleepingTestClock, sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        for (index, task) in order.enumerated() {
            let due = UpstreamLimiterTests.at(.seconds(index + 1))
            await UpstreamLimiterTests.advanceToNextGrant(clock, expected: due, sourceLocation: sourceLocation)
            #expect(await task.settled == .granted(at: due), "grant \(index + 1)", sourceLocation: sourceLocation)
        }
    }

    static func queue(
        _ limiter: Limiter, _ clock: SleepingTestClock, _ priority: UpstreamPriority, _ caller: UpstreamCaller,
        deadline: UpstreamLimiterTests.Instant = UpstreamLimiterTests.later
    ) async -> Task<Outcome, Never> {
        await UpstreamLimiterTests.queue(limiter, clock, priority, deadline: deadline, caller: caller)
    }

    @Test("tokens go round robin over the clients with calls waiting, whoever queued more first")
    func roundRobin() async throws {
        let clock = SleepingTestClock()
        let limiter = try await Self.drained(clock)
        var a: [Task<Outcome, Never>] = []
        for _ in 0..<3 { a.append(await Self.queue(limiter, clock, .submit, Self.a)) }
        var b: [Task<Outcome, Never>] = []
        for _ in 0..<2 { b.append(await Self.queue(limiter, clock, .submit, Self.b)) }
        await Self.expectGrants([a[0], b[0], a[1], b[1], a[2]], clock)
    }

    @Test("a client that starts waiting late is served at the next turn, not after the queue ahead of it")
    func latecomerServedNext() async throws {
        let clock = SleepingTestClock()
        let limiter = try await Self.drained(clock)
        var a: [Task<Outcome, Never>] = []
        for _ in 0..<4 { a.append(await Self.queue(limiter, clock, .poll, Self.a)) }
        await Self.expectGrants([a[0], a[1]], clock)
        // Two turns of a went by while b was idle: b earns nothing for them.
        let b = [await Self.queue(limiter, clock, .submit, Self.b), await Self.queue(limiter, clock, .submit, Self.b)]
        for (k, task) in [b[0], a[2], b[1], a[3]].enumerated() {
            let due = UpstreamLimiterTests.at(.seconds(3 + k))
            await UpstreamLimiterTests.advanceToNextGrant(clock, expected: due)
            #expect(await task.settled == .granted(at: due))
        }
    }

    @Test("a client of weight 2 gets two tokens for each one of a client of weight 1")
    func weights() async throws {
        let clock = SleepingTestClock()
        let limiter = try await Self.drained(clock)
        let heavy = UpstreamCaller(client: "heavy", weight: 2)
        var h: [Task<Outcome, Never>] = []
        for _ in 0..<4 { h.append(await Self.queue(limiter, clock, .submit, heavy)) }
        var l: [Task<Outcome, Never>] = []
        for _ in 0..<2 { l.append(await Self.queue(limiter, clock, .submit, Self.b)) }
        // Tags: heavy 0, 0.5, 1, 1.5; light 0, 1 (ties to the client that waited first).
        await Self.expectGrants([h[0], l[0], h[1], h[2], l[1], h[3]], clock)
    }

    @Test("within a client: polls for waiting callers, then submits, then background polls, each first in first out")
    func priorityWithinClient() async throws {
        let clock = SleepingTestClock()
        let limiter = try await Self.drained(clock)
        let background1 = await Self.queue(limiter, clock, .backgroundPoll, Self.a)
        let submit1 = await Self.queue(limiter, clock, .submit, Self.a)
        let background2 = await Self.queue(limiter, clock, .backgroundPoll, Self.a)
        let poll1 = await Self.queue(limiter, clock, .poll, Self.a)
        let submit2 = await Self.queue(limiter, clock, .submit, Self.a)
        let poll2 = await Self.queue(limiter, clock, .poll, Self.a)
        #expect(limiter.waiting == .init(polls: 2, submits: 2, backgroundPolls: 2))
        // The fifth grant with background polls waiting goes to one (the floor), the sixth too
        // since nothing else is left.
        await Self.expectGrants([poll1, poll2, submit1, submit2, background1, background2], clock)
    }

    @Test("background polls get one token in five while they wait, even behind a client's own polls")
    func backgroundFloor() async throws {
        let clock = SleepingTestClock()
        let limiter = try await Self.drained(clock)
        var foreground: [Task<Outcome, Never>] = []
        for _ in 0..<8 { foreground.append(await Self.queue(limiter, clock, .poll, Self.a)) }
        var background: [Task<Outcome, Never>] = []
        for _ in 0..<3 { background.append(await Self.queue(limiter, clock, .backgroundPoll, Self.a)) }
        let f = foreground
        await Self.expectGrants(
            [f[0], f[1], f[2], f[3], background[0], f[4], f[5], f[6], f[7], background[1], background[2]], clock)
    }

    @Test("with many clients of connected callers, background polls of another still get one token in five")
    func backgroundFloorAcrossClients() async throws {
        let clock = SleepingTestClock()
        let limiter = try await Self.drained(clock)
        let granted = UpstreamLimiterTests.Locked<[String]>([])
        var tasks: [Task<Void, Never>] = []
        func start(_ priority: UpstreamPriority, _ caller: UpstreamCaller) async {
            let before = limiter.waiting.total
            tasks.append(Task {
                if case .granted = await UpstreamLimiterTests.acquire(limiter, clock, priority, caller: caller) {
                    granted.withLock { $0.append(caller.client) }
                }
            })
            await UpstreamLimiterTests.eventually("queued") { limiter.waiting.total == before + 1 }
        }
        // Six clients with connected callers, each alone would get a seventh of the budget.
        for client in 0..<6 {
            for _ in 0..<5 { await start(.poll, UpstreamCaller(client: "client-\(client)")) }
        }
        for _ in 0..<10 { await start(.backgroundPoll, Self.b) }
        for k in 1...20 {
            await UpstreamLimiterTests.advanceToNextGrant(clock, expected: UpstreamLimiterTests.at(.seconds(k)))
            await UpstreamLimiterTests.eventually("grant \(k)") { granted.withLock { $0.count } == k }
        }
        let order = granted.withLock { $0 }
        // Every fifth grant: the round robin alone would have given b only every seventh.
        #expect(order.indices.filter { order[$0] == "b" } == [4, 9, 14, 19])
        for task in tasks { task.cancel() }
    }

    @Test("a client's newcomer pushes another client's waiter past its deadline: refused at once, its token to the next")
    func deadlineRefusedWhenPushedBack() async throws {
        let clock = SleepingTestClock()
        let limiter = try await Self.drained(clock)
        let a1 = await Self.queue(limiter, clock, .submit, Self.a)
        // Turn 2 s while a is alone: within its deadline.
        let a2 = await Self.queue(limiter, clock, .submit, Self.a, deadline: UpstreamLimiterTests.at(.milliseconds(2_500)))
        // b's first call goes before a's second, whose turn becomes 3 s: past 2.5 s, certain now.
        let b1 = await Self.queue(limiter, clock, .poll, Self.b)
        #expect(await a2.settled == .refused(.deadline, at: UpstreamLimiterTests.at(.zero)))
        let b2 = await Self.queue(limiter, clock, .poll, Self.b)
        await Self.expectGrants([a1, b1, b2], clock)
    }

    @Test("a cancelled waiter leaves its client's queue; the round robin goes on with the others")
    func cancellationInRoundRobin() async throws {
        let clock = SleepingTestClock()
        let limiter = try await Self.drained(clock)
        let a1 = await Self.queue(limiter, clock, .submit, Self.a)
        let a2 = await Self.queue(limiter, clock, .submit, Self.a)
        let b1 = await Self.queue(limiter, clock, .submit, Self.b)
        let b2 = await Self.queue(limiter, clock, .submit, Self.b)
        a2.cancel()
        #expect(await a2.settled == .refused(.cancelled, at: UpstreamLimiterTests.at(.zero)))
        await Self.expectGrants([a1, b1, b2], clock)
        #expect(limiter.waiting.total == 0)
    }
}

import Synchronization

/// The one token bucket every IMS call of the account goes through, submits and polls alike:
/// IMS throttles per account (e.g. 200 calls per 5 minutes, docs/IMS-API.md, "Throttling"), so
/// the gateway keeps under its budget itself instead of learning it from 429s.
///
/// Callers wait for a token within their deadline. When several wait, tokens go round robin
/// over the clients that have calls waiting (weighted by ``UpstreamCaller/weight``), so that one
/// client's load cannot starve another's; within a client, polls for callers still waiting go
/// first, then submits, then polls of background waits; background polls of all clients
/// together get at least one token in five while any waits (``UpstreamFairQueue``). An IMS 429
/// pauses the whole bucket (``pause(until:)``).
///
/// Grants are exact: with callers waiting, the k-th token goes out at the very instant the
/// bucket completes it (see ``TokenBucket``), so by time t after a full start at most
/// `burst + rate × t` calls have been let through. A waiter that cannot get a token before its
/// deadline is refused as soon as that is certain, not when the deadline passes.
///
/// Tokens are handed out by one dispatcher task, started by the first caller that has to wait and
/// ended when no caller waits; it sleeps on the injected clock until the next token is due. A call
/// that finds a token and nobody waiting takes it without a task or a suspension. State sits in
/// one `Mutex`; continuations are resumed outside it, exactly once.
public final class UpstreamLimiter<C: Clock>: Sendable where C.Duration == Duration {
    /// How urgent a call is within its client's share.
    public typealias Priority = UpstreamPriority

    /// Callers queued for a token, by priority.
    public struct Waiting: Sendable, Equatable {
        /// Polls for callers still waiting.
        public var polls: Int
        /// Submits (and the gateway's own calls).
        public var submits: Int
        /// Polls of background waits.
        public var backgroundPolls: Int

        /// Counts of each priority.
        public init(polls: Int, submits: Int, backgroundPolls: Int = 0) {
            self.polls = polls
            self.submits = submits
            self.backgroundPolls = backgroundPolls
        }

        /// Every caller queued.
        public var total: Int { polls + submits + backgroundPolls }
    }

    /// Why ``acquire(priority:deadline:)`` returned without a token.
    public enum Refusal: Error, Sendable, Equatable {
        /// No token can be had by the deadline: it had passed, or the earliest instant this caller
        /// could be served (behind the waiters before it, after the pause in force) is after it,
        /// or it passed while the caller was queued (a dispatcher that woke late).
        case deadline
        /// The calling task was cancelled before it got a token.
        case cancelled
    }

    private let clock: C
    private let state: Mutex<UpstreamLimiterState<C>>
    /// The budget every replica shares, asked for each token; nil for a gateway alone.
    private let shared: (any SharedUpstreamBudget)?

    /// Creates a full bucket.
    /// - Parameters:
    ///   - rate: refill rate in calls (tokens) per second, e.g. 2; clamped as in
    ///     ``TokenBucket/init(rate:burst:now:)`` (a rate that is not finite or not positive becomes
    ///     one call per 1,000,000 seconds), never traps.
    ///   - burst: calls that may go at once after an idle spell (the bucket's capacity in tokens),
    ///     e.g. 10; below 1 becomes 1.
    ///   - clock: where time is read and slept on (`ContinuousClock` in production).
    ///   - shared: the budget shared by every replica (docs/ARCHITECTURE.md, "Shared
    ///     budgets"); with one, every call queues, and the dispatcher takes a token of the
    ///     shared budget for each grant, in the same fair order; while the shared budget
    ///     cannot be reached it grants from this replica's share (``SharedUpstreamBudget/fallbackShare``)
    ///     of `rate` and `burst`. The local bucket still counts every grant, so a replica never
    ///     sends more than the whole budget.
    public init(rate: Double, burst: Int, clock: C, shared: (any SharedUpstreamBudget)? = nil) {
        self.clock = clock
        self.shared = shared
        state = Mutex(UpstreamLimiterState(rate: rate, burst: burst, now: clock.now, isShared: shared != nil))
    }

    /// Waits for a token: returns when this caller may make one IMS call.
    ///
    /// Returns at once, without suspending, when a token is available and nobody waits.
    /// Otherwise the caller queues and gets the token the bucket completes for its place in the
    /// fair order (round robin over clients, then priority, then arrival).
    /// - Parameters:
    ///   - priority: `.poll` for a job a connected caller waits on, `.submit` for a new job,
    ///     `.backgroundPoll` for a job whose caller was already answered.
    ///   - caller: the client the call is made for (its round robin place and weight).
    ///   - deadline: the latest instant at which a token is still of use; a token available at
    ///     exactly `deadline` is granted.
    /// - Throws: ``Refusal/deadline`` at once when `deadline` has passed or when even the earliest
    ///   instant this caller could be granted a token is after it (e.g. a pause lasting beyond
    ///   it), and later as soon as that becomes so (a poll queued ahead of a submit, a new
    ///   pause), or, should the dispatcher wake late, when its turn comes after the deadline
    ///   passed; ``Refusal/cancelled`` when the task is or gets cancelled while it waits. A
    ///   refused caller leaves the queue, and the token it would have had goes to the next one.
    public func acquire(
        priority: Priority, caller: UpstreamCaller = .gateway, deadline: C.Instant
    ) async throws(Refusal) {
        if Task.isCancelled { throw .cancelled }
        let (decided, id) = state.withLock { state -> (Result<Void, Refusal>?, UInt64) in
            // Time is read inside the lock so that the bucket sees instants in order.
            let decided = state.decideAtOnce(deadline: deadline, now: clock.now)
            return (decided, decided == nil ? state.makeID() : 0)
        }
        if let decided { return try decided.get() }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: UpstreamLimiterState<C>.Continuation) in
                // Checked under the lock: a cancellation handler that ran before the waiter was
                // queued found nothing to remove, but it set the flag first.
                let admission = state.withLock { state in
                    state.enqueue(
                        id: id, priority: priority, caller: caller, deadline: deadline, continuation: continuation,
                        isCancelled: Task.isCancelled, now: clock.now)
                }
                for completion in admission.completions { completion.resume() }
                if admission.startDispatcher {
                    // Detached: the dispatcher serves every caller, so it takes on none of the
                    // first one's priority or task-local values.
                    Task.detached {
                        if let shared = self.shared { await self.dispatch(shared: shared) } else { await self.dispatch() }
                    }
                }
            }
        } onCancel: {
            state.withLock { $0.remove(id: id) }?.resume(returning: .failure(.cancelled))
        }
        try result.get()
    }

    /// IMS answered 429: no token is granted before `until`.
    ///
    /// A pause ending later than the one in force extends it; one ending earlier does not shorten
    /// it. Meanwhile tokens accumulate up to burst as usual, but when the pause ends the bucket
    /// restarts with at most one token, so that the first call after it is a lone probe. An
    /// `until` not after now only takes the bucket down to at most one token. Waiters whose
    /// deadline the pause puts out of reach are refused (``Refusal/deadline``) at once.
    /// - Parameter until: the instant the pause ends, e.g. now plus the 429's `Retry-After`.
    public func pause(until: C.Instant) {
        let now = clock.now
        let refused = state.withLock { $0.pause(until: until, now: now) }
        for completion in refused { completion.resume() }
        if let shared {
            let duration = now.duration(to: until)
            Task.detached { await shared.pause(for: max(.zero, duration)) }
        }
    }

    /// The instant the current pause ends, or nil when no pause is in force.
    public var pausedUntil: C.Instant? {
        state.withLock { $0.pausedUntil(now: clock.now) }
    }

    /// Callers queued for a token now, by priority (for metrics and tests); callers served at
    /// once are never counted.
    public var waiting: Waiting {
        state.withLock { $0.waiting }
    }

    /// The dispatcher with a shared budget: for the next waiter, one take of the shared budget;
    /// a token goes to the waiter the fair queue names once the take returns; a refusal
    /// sleeps until the shared budget says, refusing first the waiters whose deadline comes
    /// before that. While the shared budget cannot be reached, grants from this replica's
    /// share, for at least one second before asking it again. Ends, in the same locked step
    /// that finds the queues empty, as ``dispatch()`` does.
    private func dispatch(shared: any SharedUpstreamBudget) async {
        var fallbackUntil: C.Instant?
        while true {
            let now = clock.now
            if let until = fallbackUntil, now < until {
                let (completions, nextGrant) = state.withLock { $0.dispatchFallback(now: now, share: shared.fallbackShare) }
                for completion in completions { completion.resume() }
                guard let nextGrant else { return }
                try? await clock.sleep(until: min(nextGrant, until), tolerance: nil)
                continue
            }
            fallbackUntil = nil
            let (completions, step) = state.withLock { $0.sharedStep(now: now) }
            for completion in completions { completion.resume() }
            switch step {
            case .stop:
                return
            case .sleep(let until):
                try? await clock.sleep(until: until, tolerance: nil)
            case .take:
                do {
                    if let wait = try await Self.take(shared, within: Self.sharedTakeLimit) {
                        let until = clock.now.advanced(by: wait)
                        let refused = state.withLock { $0.sharedRefused(until: until) }
                        for completion in refused { completion.resume() }
                        try? await clock.sleep(until: until, tolerance: nil)
                    } else {
                        let (granted, refused) = state.withLock { $0.grantShared(now: clock.now) }
                        for completion in refused { completion.resume() }
                        granted?.resume()
                    }
                } catch {
                    fallbackUntil = clock.now.advanced(by: .seconds(1))
                }
            }
        }
    }

    /// How long one take of the shared budget may take before the limiter gives up on it and
    /// grants from its fallback share for a while (a row lock held elsewhere, a store that
    /// stalls): the take may still complete later, and its token is then lost, never given
    /// twice. Real time, whatever the limiter's clock.
    static var sharedTakeLimit: Duration { .seconds(2) }

    /// `shared.take()`, or `TakeTimedOut` after `limit`.
    private static func take(_ shared: any SharedUpstreamBudget, within limit: Duration) async throws -> Duration? {
        try await withThrowingTaskGroup(of: Duration?.self) { group in
            group.addTask { try await shared.take() }
            group.addTask {
                try await Task.sleep(for: limit)
                throw TakeTimedOut()
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// A take of the shared budget that did not answer within ``sharedTakeLimit``.
    private struct TakeTimedOut: Error {}

    /// The dispatcher: grants the tokens due, then sleeps until the next one is. It ends, in the
    /// same locked step that finds the queues empty, so a caller queued after that starts a new
    /// one (no lost wake-up). A sleep is never cut short: the next token can only become due
    /// later than planned (tokens taken at once, a pause), never earlier, so at worst the
    /// dispatcher wakes early and sleeps again, or outlives its last waiter until that instant.
    private func dispatch() async {
        while true {
            let (completions, nextGrant) = state.withLock { $0.dispatch(now: clock.now) }
            for completion in completions { completion.resume() }
            guard let nextGrant else { return }
            // Nothing cancels this task; a clock that throws anyway gets another pass.
            try? await clock.sleep(until: nextGrant, tolerance: nil)
        }
    }
}

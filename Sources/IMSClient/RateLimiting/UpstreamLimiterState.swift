/// The state machine of ``UpstreamLimiter``: the token bucket, the pause, and the fair queue of
/// waiters; no clock and no tasks, every operation gets `now` from its caller and returns the
/// continuations to resume (outside the lock) instead of resuming them.
///
/// The schedule is deterministic: with waiters queued and nothing changing, tokens go out at the
/// instants the bucket completes them (after the pause, if one is in force), each to the waiter
/// ``UpstreamFairQueue`` names next. A waiter's earliest possible grant time only moves later
/// (a waiter queued ahead of it, a pause), never earlier except when one ahead leaves; after
/// every such change the queue is played forward on a copy and the waiters it shows past their
/// deadline are refused right then. So a queued waiter's deadline never passes before its turn,
/// unless the dispatcher wakes late.
struct UpstreamLimiterState<C: Clock>: Sendable where C.Duration == Duration {
    typealias Refusal = UpstreamLimiter<C>.Refusal
    typealias Continuation = CheckedContinuation<Result<Void, Refusal>, Never>

    /// A queued caller of `acquire`.
    struct Waiter: Sendable {
        let deadline: C.Instant
        let continuation: Continuation
    }

    /// A continuation to resume, and with what.
    struct Completion: Sendable {
        let continuation: Continuation
        let result: Result<Void, Refusal>

        func resume() { continuation.resume(returning: result) }
    }

    /// The bucket as it will be after serving some waiters, and the instant of the last grant.
    private struct Projection: Sendable {
        var bucket: TokenBucket<C.Instant>
        var time: C.Instant

        /// Takes the next token, waiting for it if needed; returns the instant it is granted.
        mutating func takeNext() -> C.Instant {
            while true {
                switch bucket.take(now: time) {
                case .admitted:
                    return time
                case .refused(let retryAfter):
                    let next = time.advanced(by: retryAfter)
                    // A clock whose instants are coarser than attoseconds could round `next`
                    // down to `time`; the loop must still make progress.
                    time = next > time ? next : time.advanced(by: .nanoseconds(1))
                }
            }
        }
    }

    /// The requested rate (tokens per second) and burst (tokens), kept as given so that a resize
    /// of the bucket to them finds exactly the same limits.
    private let rate: Double
    private let burst: Int
    private var bucket: TokenBucket<C.Instant>
    /// The end of the pause, while one is in force or has ended but not been applied yet.
    private var pauseEnd: C.Instant?
    private var queue = UpstreamFairQueue<Waiter>()
    /// Where each queued waiter is, for a cancellation.
    private var places: [UInt64: (client: String, priority: UpstreamPriority)] = [:]
    private var lastID: UInt64 = 0
    /// Whether a dispatcher task runs (sleeping, or about to take the lock).
    private(set) var isDispatching = false
    /// Whether a budget shared by replicas decides each grant (``UpstreamLimiter`` with a
    /// ``SharedUpstreamBudget``): then no call is decided at once, every one goes through the
    /// queue and the dispatcher.
    let isShared: Bool
    /// The bucket of the share this replica uses alone while the shared budget cannot be
    /// reached (``dispatchFallback(now:share:)``).
    private var fallback: TokenBucket<C.Instant>?
    /// Shared mode: the instant before which the shared budget said it has no token (its last
    /// refusal); a caller whose deadline comes first is refused as it arrives.
    private var sharedNotBefore: C.Instant?

    /// A full bucket of `burst` tokens refilled at `rate` tokens per second, both clamped as in
    /// ``TokenBucket/init(rate:burst:now:)``.
    init(rate: Double, burst: Int, now: C.Instant, isShared: Bool = false) {
        self.rate = rate
        self.burst = burst
        self.isShared = isShared
        bucket = TokenBucket(rate: rate, burst: burst, now: now)
    }

    /// Waiters queued, by priority.
    var waiting: UpstreamLimiter<C>.Waiting {
        .init(polls: queue.count(.poll), submits: queue.count(.submit), backgroundPolls: queue.count(.backgroundPoll))
    }

    /// A new waiter id, never used before.
    mutating func makeID() -> UInt64 {
        lastID += 1
        return lastID
    }

    /// The end of the pause in force at `now`, if any.
    mutating func pausedUntil(now: C.Instant) -> C.Instant? {
        applyEndedPause(now: now)
        return pauseEnd
    }

    /// Decides a call at once when that needs no waiting: `.deadline` for a deadline before
    /// `now`, success when a token is there, no pause is in force and nobody is queued; nil
    /// otherwise.
    mutating func decideAtOnce(deadline: C.Instant, now: C.Instant) -> Result<Void, Refusal>? {
        applyEndedPause(now: now)
        guard deadline >= now else { return .failure(.deadline) }
        if let sharedNotBefore, sharedNotBefore > now, deadline < sharedNotBefore { return .failure(.deadline) }
        guard !isShared, queue.count == 0, pauseEnd == nil, case .admitted = bucket.take(now: now) else { return nil }
        return .success(())
    }

    /// What ``enqueue(id:priority:caller:deadline:continuation:isCancelled:now:)`` did.
    struct Admission {
        /// Continuations to resume: the caller's own when it was decided at once, and waiters
        /// refused because the new one now goes before them.
        var completions: [Completion] = []
        /// Whether the caller must start the dispatcher task.
        var startDispatcher = false
    }

    /// Queues a caller of `acquire`, unless it can be decided at once: cancelled, deadline
    /// passed, token available, or its earliest possible grant time after its deadline.
    mutating func enqueue(
        id: UInt64, priority: UpstreamPriority, caller: UpstreamCaller, deadline: C.Instant, continuation: Continuation,
        isCancelled: Bool, now: C.Instant
    ) -> Admission {
        var admission = Admission()
        if isCancelled {
            admission.completions.append(Completion(continuation: continuation, result: .failure(.cancelled)))
            return admission
        }
        if let decided = decideAtOnce(deadline: deadline, now: now) {
            admission.completions.append(Completion(continuation: continuation, result: decided))
            return admission
        }
        queue.append(Waiter(deadline: deadline, continuation: continuation), id: id, priority: priority, caller: caller)
        places[id] = (caller.client, priority)
        admission.completions = refuseUnreachable(now: now)
        if !isDispatching, queue.count > 0 {
            isDispatching = true
            admission.startDispatcher = true
        }
        return admission
    }

    /// Removes the waiter queued under `id` (its caller was cancelled); returns its continuation,
    /// or nil when it is no longer queued (already granted or refused).
    mutating func remove(id: UInt64) -> Continuation? {
        guard let place = places.removeValue(forKey: id) else { return nil }
        return queue.remove(id: id, client: place.client, priority: place.priority)?.continuation
    }

    /// No token before `until`: extends the pause in force (never shortens it); an instant not
    /// after `now` only restarts the bucket now with at most one token. Returns the waiters
    /// refused because their earliest possible grant time is now after their deadline.
    mutating func pause(until: C.Instant, now: C.Instant) -> [Completion] {
        applyEndedPause(now: now)
        let end = max(until, now)
        pauseEnd = max(pauseEnd ?? end, end)
        applyEndedPause(now: now)
        return refuseUnreachable(now: now)
    }

    /// One pass of the dispatcher at `now`: refuses queued waiters whose deadline passed (only
    /// possible when the dispatcher woke late), grants every token available, in the order of
    /// ``UpstreamFairQueue``.
    /// - Returns: the continuations to resume and the instant of the next grant, or nil (and the
    ///   dispatcher marked stopped) when no waiter is left.
    mutating func dispatch(now: C.Instant) -> (completions: [Completion], nextGrant: C.Instant?) {
        applyEndedPause(now: now)
        var completions: [Completion] = []
        while let (id, head) = queue.peekNext() {
            let granted: Bool
            if head.deadline < now {
                granted = false
            } else if pauseEnd == nil, case .admitted = bucket.take(now: now) {
                granted = true
            } else {
                break
            }
            queue.removeNext(granted: granted)
            places[id] = nil
            completions.append(Completion(continuation: head.continuation, result: granted ? .success(()) : .failure(.deadline)))
        }
        guard queue.count > 0 else {
            isDispatching = false
            return (completions, nil)
        }
        var projection = startProjection(now: now)
        return (completions, projection.takeNext())
    }

    // MARK: - Shared budget

    /// What the dispatcher does next in shared mode.
    enum SharedStep: Equatable {
        /// No waiter is left (the dispatcher is marked stopped).
        case stop
        /// Take a token of the shared budget for the next waiter.
        case take
        /// A local pause (an IMS 429 seen here) is in force until then.
        case sleep(until: C.Instant)
    }

    /// Shared mode, before a take: refuses the queued waiters whose deadline passed and says
    /// what to do next.
    mutating func sharedStep(now: C.Instant) -> (completions: [Completion], step: SharedStep) {
        applyEndedPause(now: now)
        let completions = refuse(deadlineBefore: now)
        guard queue.count > 0 else {
            isDispatching = false
            return (completions, .stop)
        }
        if let pauseEnd { return (completions, .sleep(until: pauseEnd)) }
        return (completions, .take)
    }

    /// Shared mode: the shared budget granted a token; it goes to the waiter the fair queue
    /// names now (the local bucket gives one too, when it has one, so that its projections
    /// see the grant). Nil when no waiter is left (the token is lost, never given twice).
    mutating func grantShared(now: C.Instant) -> (granted: Completion?, refused: [Completion]) {
        sharedNotBefore = nil
        // A waiter whose deadline passed during the take gets no token (the next one does).
        let refused = refuse(deadlineBefore: now)
        guard let (id, head) = queue.peekNext() else { return (nil, refused) }
        _ = bucket.take(now: now)
        queue.removeNext(granted: true)
        places[id] = nil
        return (Completion(continuation: head.continuation, result: .success(())), refused)
    }

    /// Shared mode: the shared budget has no token before `instant`: refuses the queued
    /// waiters whose deadline comes first, and, until then, those that arrive with one.
    mutating func sharedRefused(until instant: C.Instant) -> [Completion] {
        sharedNotBefore = instant
        return refuse(deadlineBefore: instant)
    }

    /// Shared mode: no shared token before `instant`: refuses the waiters whose deadline comes
    /// first (none of them can be served in time).
    mutating func refuse(deadlineBefore instant: C.Instant) -> [Completion] {
        var late: [UInt64] = []
        var projected = queue
        while let (id, waiter) = projected.peekNext() {
            if waiter.deadline < instant { late.append(id) }
            projected.removeNext(granted: false)
        }
        return late.compactMap { id in
            remove(id: id).map { Completion(continuation: $0, result: .failure(.deadline)) }
        }
    }

    /// Shared mode while the shared budget cannot be reached: grants, in the fair order, the
    /// tokens of this replica's share of the budget (`share` of the rate, and of the burst
    /// with at least 1), as ``dispatch(now:)`` does with the whole budget.
    /// - Returns: the continuations to resume and the instant of the next grant, or nil (and
    ///   the dispatcher marked stopped) when no waiter is left.
    mutating func dispatchFallback(now: C.Instant, share: Double) -> (completions: [Completion], nextGrant: C.Instant?) {
        let share = share.isFinite ? min(1, max(0.000_001, share)) : 1
        let (shareRate, shareBurst) = (rate * share, max(1, Int((Double(burst) * share).rounded(.down))))
        if fallback == nil {
            fallback = TokenBucket(rate: shareRate, burst: shareBurst, now: now)
        } else {
            fallback?.resize(rate: shareRate, burst: shareBurst, now: now)
        }
        applyEndedPause(now: now)
        var completions = refuse(deadlineBefore: now)
        while pauseEnd == nil, let (id, head) = queue.peekNext(), case .admitted = fallback!.take(now: now) {
            _ = bucket.take(now: now)
            queue.removeNext(granted: true)
            places[id] = nil
            completions.append(Completion(continuation: head.continuation, result: .success(())))
        }
        guard queue.count > 0 else {
            isDispatching = false
            return (completions, nil)
        }
        if let pauseEnd { return (completions, pauseEnd) }
        guard case .refused(let retryAfter) = fallback!.take(now: now) else { return (completions, now) }
        return (completions, now.advanced(by: retryAfter))
    }

    /// Plays the queue forward from `now` on a copy, the next token to the waiter the queue
    /// names; removes and returns the waiters whose turn would come after their deadline (their
    /// token goes to the next one).
    private mutating func refuseUnreachable(now: C.Instant) -> [Completion] {
        var projected = queue
        var projection = startProjection(now: now)
        var late: [UInt64] = []
        while let (id, waiter) = projected.peekNext() {
            var next = projection
            let granted = next.takeNext() <= waiter.deadline
            if granted { projection = next } else { late.append(id) }
            projected.removeNext(granted: granted)
        }
        return late.compactMap { id in
            remove(id: id).map { Completion(continuation: $0, result: .failure(.deadline)) }
        }
    }

    /// The bucket from `now` on, before any queued waiter is served.
    private func startProjection(now: C.Instant) -> Projection {
        guard let pauseEnd, pauseEnd > now else { return Projection(bucket: bucket, time: now) }
        var paused = bucket
        Self.restart(&paused, at: pauseEnd, rate: rate, burst: burst)
        return Projection(bucket: paused, time: pauseEnd)
    }

    /// Applies a pause that ended at or before `now`: the bucket, filled meanwhile up to burst,
    /// restarts at the pause's end with at most one token.
    private mutating func applyEndedPause(now: C.Instant) {
        guard let end = pauseEnd, end <= now else { return }
        Self.restart(&bucket, at: end, rate: rate, burst: burst)
        pauseEnd = nil
    }

    /// Brings `bucket` up to `instant` and keeps at most one token of what it holds (a resize
    /// never adds tokens, and keeping the same rate keeps the fraction of a token exact).
    private static func restart(
        _ bucket: inout TokenBucket<C.Instant>, at instant: C.Instant, rate: Double, burst: Int
    ) {
        bucket.resize(rate: rate, burst: 1, now: instant)
        bucket.resize(rate: rate, burst: burst, now: instant)
    }
}

/// The state machine of ``UpstreamLimiter``: the token bucket, the pause, and the queues of
/// waiters; no clock and no tasks, every operation gets `now` from its caller and returns the
/// continuations to resume (outside the lock) instead of resuming them.
///
/// The schedule is deterministic: with waiters queued and nothing changing, the waiter at place
/// k (polls first, then submits, each first-in first-out) gets its token at the instant the
/// bucket completes its k-th token from now (after the pause, if one is in force). That instant
/// is its earliest possible grant time; it only moves later when a poll queues ahead of a submit
/// or a pause is set, and the waiters it moves past their deadline are refused right then. So a
/// queued waiter's deadline never passes before its turn, unless the dispatcher wakes late.
struct UpstreamLimiterState<C: Clock>: Sendable where C.Duration == Duration {
    typealias Priority = UpstreamLimiter<C>.Priority
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
    private var polls = UpstreamWaitQueue<Waiter>()
    private var submits = UpstreamWaitQueue<Waiter>()
    private var lastID: UInt64 = 0
    /// The projections after the last queued poll and after the last queued submit; nil when
    /// they must be computed again (every dispatch, removal or token taken at once).
    private var projections: (afterPolls: Projection, afterSubmits: Projection)?
    /// Whether a dispatcher task runs (sleeping, or about to take the lock).
    private(set) var isDispatching = false

    /// A full bucket of `burst` tokens refilled at `rate` tokens per second, both clamped as in
    /// ``TokenBucket/init(rate:burst:now:)``.
    init(rate: Double, burst: Int, now: C.Instant) {
        self.rate = rate
        self.burst = burst
        bucket = TokenBucket(rate: rate, burst: burst, now: now)
    }

    /// Waiters queued, by priority.
    var waiting: (polls: Int, submits: Int) { (polls.count, submits.count) }

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
    /// `now`, success when a token is there and no waiter of the same or a higher priority is
    /// queued; nil otherwise.
    mutating func decideAtOnce(priority: Priority, deadline: C.Instant, now: C.Instant) -> Result<Void, Refusal>? {
        applyEndedPause(now: now)
        guard deadline >= now else { return .failure(.deadline) }
        let aheadQueued = priority == .poll ? !polls.isEmpty : !(polls.isEmpty && submits.isEmpty)
        guard !aheadQueued, pauseEnd == nil, case .admitted = bucket.take(now: now) else { return nil }
        projections = nil
        return .success(())
    }

    /// What ``enqueue(id:priority:deadline:continuation:isCancelled:now:)`` did.
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
        id: UInt64, priority: Priority, deadline: C.Instant, continuation: Continuation, isCancelled: Bool,
        now: C.Instant
    ) -> Admission {
        var admission = Admission()
        if isCancelled {
            admission.completions.append(Completion(continuation: continuation, result: .failure(.cancelled)))
            return admission
        }
        if let decided = decideAtOnce(priority: priority, deadline: deadline, now: now) {
            admission.completions.append(Completion(continuation: continuation, result: decided))
            return admission
        }
        var (afterPolls, afterSubmits) = projections ?? reproject(now: now, refused: &admission.completions)
        var projected = priority == .poll ? afterPolls : afterSubmits
        guard projected.takeNext() <= deadline else {
            admission.completions.append(Completion(continuation: continuation, result: .failure(.deadline)))
            return admission
        }
        let waiter = Waiter(deadline: deadline, continuation: continuation)
        switch priority {
        case .poll:
            polls.append(waiter, id: id)
            afterPolls = projected
            // Every queued submit now gets its token one place later.
            afterSubmits = projected
            admission.completions += Self.refuseLate(in: &submits, from: &afterSubmits)
        case .submit:
            submits.append(waiter, id: id)
            afterSubmits = projected
        }
        projections = (afterPolls, afterSubmits)
        if !isDispatching {
            isDispatching = true
            admission.startDispatcher = true
        }
        return admission
    }

    /// Removes the waiter queued under `id` (its caller was cancelled); returns its continuation,
    /// or nil when it is no longer queued (already granted or refused).
    mutating func remove(id: UInt64) -> Continuation? {
        guard let waiter = polls.remove(id: id) ?? submits.remove(id: id) else { return nil }
        projections = nil
        return waiter.continuation
    }

    /// No token before `until`: extends the pause in force (never shortens it); an instant not
    /// after `now` only restarts the bucket now with at most one token. Returns the waiters
    /// refused because their earliest possible grant time is now after their deadline.
    mutating func pause(until: C.Instant, now: C.Instant) -> [Completion] {
        applyEndedPause(now: now)
        let end = max(until, now)
        pauseEnd = max(pauseEnd ?? end, end)
        applyEndedPause(now: now)
        var refused: [Completion] = []
        _ = reproject(now: now, refused: &refused)
        return refused
    }

    /// One pass of the dispatcher at `now`: refuses queued waiters whose deadline passed (only
    /// possible when the dispatcher woke late), grants every token available, highest priority
    /// first and first-in first-out within a priority.
    /// - Returns: the continuations to resume and the instant of the next grant, or nil (and the
    ///   dispatcher marked stopped) when no waiter is left.
    mutating func dispatch(now: C.Instant) -> (completions: [Completion], nextGrant: C.Instant?) {
        applyEndedPause(now: now)
        projections = nil
        var completions: [Completion] = []
        while true {
            let head: Waiter
            let isPoll: Bool
            if let poll = polls.first() {
                (head, isPoll) = (poll, true)
            } else if let submit = submits.first() {
                (head, isPoll) = (submit, false)
            } else {
                break
            }
            let result: Result<Void, Refusal>
            if head.deadline < now {
                result = .failure(.deadline)
            } else if pauseEnd == nil, case .admitted = bucket.take(now: now) {
                result = .success(())
            } else {
                break
            }
            _ = isPoll ? polls.removeFirst() : submits.removeFirst()
            completions.append(Completion(continuation: head.continuation, result: result))
        }
        guard !(polls.isEmpty && submits.isEmpty) else {
            isDispatching = false
            return (completions, nil)
        }
        var projection = startProjection(now: now)
        return (completions, projection.takeNext())
    }

    /// The bucket from `now` on, before any queued waiter is served.
    private func startProjection(now: C.Instant) -> Projection {
        guard let pauseEnd, pauseEnd > now else { return Projection(bucket: bucket, time: now) }
        var paused = bucket
        Self.restart(&paused, at: pauseEnd, rate: rate, burst: burst)
        return Projection(bucket: paused, time: pauseEnd)
    }

    /// Walks every queued waiter in the order of service, refusing those whose earliest possible
    /// grant time is after their deadline (their token goes to the next one); keeps and returns
    /// the projections after the last poll and after the last submit.
    private mutating func reproject(
        now: C.Instant, refused: inout [Completion]
    ) -> (afterPolls: Projection, afterSubmits: Projection) {
        var projection = startProjection(now: now)
        refused += Self.refuseLate(in: &polls, from: &projection)
        let afterPolls = projection
        refused += Self.refuseLate(in: &submits, from: &projection)
        projections = (afterPolls, projection)
        return (afterPolls, projection)
    }

    private static func refuseLate(
        in queue: inout UpstreamWaitQueue<Waiter>, from projection: inout Projection
    ) -> [Completion] {
        queue.removeAll { waiter in
            var next = projection
            guard next.takeNext() <= waiter.deadline else { return true }
            projection = next
            return false
        }.map { Completion(continuation: $0.continuation, result: .failure(.deadline)) }
    }

    /// Applies a pause that ended at or before `now`: the bucket, filled meanwhile up to burst,
    /// restarts at the pause's end with at most one token.
    private mutating func applyEndedPause(now: C.Instant) {
        guard let end = pauseEnd, end <= now else { return }
        Self.restart(&bucket, at: end, rate: rate, burst: burst)
        pauseEnd = nil
        projections = nil
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

import Synchronization

/// Callers waiting on the same job share one poll loop (docs/ARCHITECTURE.md, "Waiting"): a job
/// is never polled by two loops at once, whatever the number of requests (repeats, background
/// waits) that wait on it.
///
/// The loop polls with the schedule of the caller that started it, until the job is final or
/// the latest deadline of the callers still attached has passed; a caller that joins later
/// with a later deadline extends it. Each caller gets the final outcome as soon as it is known,
/// or, at its own deadline, the last state seen (ending `.deadlinePassed`), and is told the
/// state after every poll. When every caller has left (cancelled), the loop stops. The job's
/// polls take the call budget's `.poll` place while any attached caller is connected, and the
/// `.backgroundPoll` one when all of them are background waits.
public final class SharedJobPollers<C: Clock>: Sendable where C.Duration == Duration {
    private struct Key: Hashable {
        var projectID: String
        var jobID: String
    }

    private struct Waiter {
        var deadline: C.Instant
        var continuation: CheckedContinuation<JobWaitOutcome, Never>
        var isBackground: Bool
        var onPoll: @Sendable (JobWaitOutcome) -> Void
    }

    private struct Poller {
        var latest: JobWaitOutcome
        var waiters: [Int: Waiter] = [:]
        var loop: Task<Void, Never>?
        var deadline: C.Instant
        /// Which loop owns the entry: a loop left by all its callers must not touch the
        /// entry of a loop started after it for the same job.
        var generation: Int
    }

    private struct State {
        var pollers: [Key: Poller] = [:]
        var nextID = 0
        /// Poll loops started (for tests: one per job however many callers).
        var loopsStarted = 0
    }

    private let waiter: JobWaiter<C>
    private let clock: C
    private let state = Mutex(State())

    /// - Parameters:
    ///   - waiter: polls one job (its loop is the shared one).
    ///   - clock: the clock deadlines are read on.
    public init(waiter: JobWaiter<C>, clock: C) {
        self.waiter = waiter
        self.clock = clock
    }

    /// Poll loops started so far.
    public var loopsStarted: Int { state.withLock { $0.loopsStarted } }

    /// Waits for `jobID` like ``JobWaiter/wait(projectID:jobID:deadline:previousPolls:correlationID:schedule:caller:priority:onPoll:)``,
    /// sharing the poll loop of any other caller waiting on the same job.
    /// - Parameters:
    ///   - caller: the client the job is for (its share of the call budget); the loop keeps the
    ///     caller of the one that started it.
    ///   - isBackground: whether this is a background wait (its caller was already answered).
    ///   - onPoll: told the state after every poll of the shared loop while this caller waits.
    /// - Returns: the final outcome, or the last state seen at `deadline`; `polls` counts the
    ///   shared loop's polls.
    public func wait(
        projectID: String, jobID: String, deadline: C.Instant, previousPolls: Int = 0, correlationID: String? = nil,
        schedule: PollSchedule? = nil, caller: UpstreamCaller = .gateway, isBackground: Bool = false,
        onPoll: @escaping @Sendable (JobWaitOutcome) -> Void = { _ in }
    ) async -> JobWaitOutcome {
        let key = Key(projectID: projectID, jobID: jobID)
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        let outcome = await withTaskCancellationHandler {
            await withTaskGroup(of: JobWaitOutcome?.self) { group -> JobWaitOutcome in
                group.addTask {
                    await withCheckedContinuation { (continuation: CheckedContinuation<JobWaitOutcome, Never>) in
                        self.attach(
                            id: id, key: key,
                            waiter: Waiter(
                                deadline: deadline, continuation: continuation, isBackground: isBackground, onPoll: onPoll),
                            previousPolls: previousPolls, correlationID: correlationID, schedule: schedule, caller: caller)
                    }
                }
                group.addTask {
                    try? await self.clock.sleep(until: deadline, tolerance: nil)
                    return nil
                }
                let first = await group.next() ?? nil
                if let first {
                    group.cancelAll()
                    return first
                }
                // The deadline came first: leave with the last state seen.
                self.detach(id: id, key: key)
                return await group.next().flatMap { $0 } ?? JobWaitOutcome(ending: .deadlinePassed, polls: previousPolls)
            }
        } onCancel: {
            self.detach(id: id, key: key)
        }
        return outcome
    }

    private func attach(
        id: Int, key: Key, waiter: Waiter, previousPolls: Int, correlationID: String?, schedule: PollSchedule?,
        caller: UpstreamCaller
    ) {
        let deadline = waiter.deadline
        let generation = state.withLock { state -> Int? in
            if Task.isCancelled || clock.now >= deadline {
                var latest = state.pollers[key]?.latest ?? JobWaitOutcome(ending: .deadlinePassed, polls: previousPolls)
                if case .finished = latest.ending {} else { latest.ending = .deadlinePassed }
                waiter.continuation.resume(returning: latest)
                return nil
            }
            if state.pollers[key] != nil {
                // In place: a copy of the poller would copy its waiters on every attach.
                state.pollers[key]!.waiters[id] = waiter
                state.pollers[key]!.deadline = max(state.pollers[key]!.deadline, deadline)
                return nil
            }
            state.loopsStarted += 1
            var poller = Poller(
                latest: JobWaitOutcome(ending: .deadlinePassed, polls: previousPolls), deadline: deadline,
                generation: state.loopsStarted)
            poller.waiters[id] = waiter
            state.pollers[key] = poller
            return state.loopsStarted
        }
        guard let generation else { return }
        let loop = Task {
            await self.run(key: key, generation: generation, correlationID: correlationID, schedule: schedule, caller: caller)
        }
        state.withLock { state in
            if state.pollers[key]?.generation == generation { state.pollers[key]?.loop = loop }
        }
        // Left by every caller before its task was recorded: stop it.
        if state.withLock({ $0.pollers[key]?.generation != generation }) { loop.cancel() }
    }

    /// Polls until the job is final or no attached caller's deadline is left.
    private func run(
        key: Key, generation: Int, correlationID: String?, schedule: PollSchedule?, caller: UpstreamCaller
    ) async {
        func current(_ state: State) -> Poller? {
            state.pollers[key].flatMap { $0.generation == generation ? $0 : nil }
        }
        var outcome = state.withLock { current($0)?.latest } ?? JobWaitOutcome(ending: .deadlinePassed)
        while !Task.isCancelled {
            guard let deadline = state.withLock({ current($0)?.deadline }), clock.now < deadline else { break }
            let before = outcome
            var next = await waiter.wait(
                projectID: key.projectID, jobID: key.jobID, deadline: deadline, previousPolls: outcome.polls,
                correlationID: correlationID, schedule: schedule, caller: caller,
                priority: {
                    let background = self.state.withLock { state in
                        guard let poller = state.pollers[key], poller.generation == generation else { return false }
                        return poller.waiters.values.allSatisfy(\.isBackground)
                    }
                    return background ? .backgroundPoll : .poll
                },
                onPoll: { progress in
                    var progress = progress
                    if progress.job == nil { progress.job = before.job }
                    let told = self.state.withLock { state -> [@Sendable (JobWaitOutcome) -> Void] in
                        guard state.pollers[key]?.generation == generation else { return [] }
                        state.pollers[key]?.latest = progress
                        return state.pollers[key]?.waiters.values.map(\.onPoll) ?? []
                    }
                    for onPoll in told { onPoll(progress) }
                })
            if next.job == nil { next.job = outcome.job }
            if next.firstPoll == nil { next.firstPoll = outcome.firstPoll }
            outcome = next
            state.withLock { state in
                if current(state) != nil { state.pollers[key]?.latest = outcome }
            }
            guard case .deadlinePassed = outcome.ending else { break }
            // Go on only for a caller that joined with a later deadline: the wait that just
            // ended already placed its last poll before this one.
            guard let extended = state.withLock({ current($0)?.deadline }), extended > deadline else { break }
        }
        // Final (or nobody left): every caller still attached gets it.
        let waiters = state.withLock { state -> [Waiter] in
            guard let poller = current(state) else { return [] }
            state.pollers[key] = nil
            return Array(poller.waiters.values)
        }
        for waiter in waiters { waiter.continuation.resume(returning: outcome) }
    }

    /// A caller leaves (deadline or cancellation) with the last state seen; the loop stops when
    /// it was the last one.
    private func detach(id: Int, key: Key) {
        let (waiter, latest, loop) = state.withLock { state -> (Waiter?, JobWaitOutcome?, Task<Void, Never>?) in
            guard var poller = state.pollers[key], let waiter = poller.waiters.removeValue(forKey: id) else {
                return (nil, nil, nil)
            }
            var loop: Task<Void, Never>?
            if poller.waiters.isEmpty {
                loop = poller.loop
                state.pollers[key] = nil
            } else {
                poller.deadline = poller.waiters.values.map(\.deadline).max() ?? poller.deadline
                state.pollers[key] = poller
            }
            return (waiter, poller.latest, loop)
        }
        loop?.cancel()
        if let waiter, var latest {
            if case .finished = latest.ending {} else { latest.ending = .deadlinePassed }
            waiter.continuation.resume(returning: latest)
        }
    }
}

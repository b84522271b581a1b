import Synchronization

/// The state of a graceful shutdown (docs/ARCHITECTURE.md, "Shutdown"): whether the gateway is
/// draining, its drain deadline, and how many accept/reject requests are still running.
///
/// While draining, new accept/reject requests are refused (``admit(limit:)`` answers `.draining`) and every
/// running one works to min(its own deadline, drain start + drain timeout): running requests are
/// told the drain deadline (``whenDraining(_:)``), so whatever is still pending then is answered 504.
/// No I/O: ``DrainService`` starts the drain, the member-status routes admit and finish requests.
public final class DrainController: Sendable {
    private struct State {
        /// Set once, when draining starts.
        var drainDeadline: ContinuousClock.Instant?
        var running = 0
        var nextWatcherID = 0
        /// Woken when draining starts.
        var drainWatchers: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Woken when `running` drops to zero.
        var idleWatchers: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Told the drain deadline when draining starts.
        var drainHandlers: [@Sendable (ContinuousClock.Instant) -> Void] = []

        /// Whether `event` has happened.
        func has(_ event: Event) -> Bool {
            switch event {
            case .draining: return drainDeadline != nil
            case .idle: return running == 0
            }
        }

        /// Registers the continuation `id` waiting for `event`. A switch, not a subscript with
        /// get and set: that copied the whole dictionary on every registration (O(n) each, with
        /// thousands of callers waiting; BENCHMARKS.md).
        mutating func addWatcher(_ id: Int, of event: Event, _ continuation: CheckedContinuation<Void, Never>) {
            switch event {
            case .draining: drainWatchers[id] = continuation
            case .idle: idleWatchers[id] = continuation
            }
        }

        /// Removes and returns the continuation `id` waiting for `event`.
        mutating func removeWatcher(_ id: Int, of event: Event) -> CheckedContinuation<Void, Never>? {
            switch event {
            case .draining: drainWatchers.removeValue(forKey: id)
            case .idle: idleWatchers.removeValue(forKey: id)
            }
        }
    }

    /// What a caller can wait for.
    private enum Event {
        case draining, idle
    }

    private let state = Mutex(State())

    /// Creates a controller: not draining, nothing running.
    public init() {}

    /// The drain deadline (drain start + drain timeout); nil while not draining.
    public var drainDeadline: ContinuousClock.Instant? { state.withLock { $0.drainDeadline } }

    /// Whether draining has started.
    public var isDraining: Bool { drainDeadline != nil }

    /// Accept/reject requests admitted and not finished yet.
    public var running: Int { state.withLock { $0.running } }

    /// Starts draining: the drain deadline becomes `now + timeout` and every running wait is
    /// woken to work to it. Later calls change nothing (the deadline only moves once).
    /// - Parameters:
    ///   - timeout: the drain timeout (`drain.timeoutSeconds`).
    ///   - now: the drain start (tests pass their own instant).
    /// - Returns: whether this call started the drain.
    @discardableResult
    public func startDraining(timeout: Duration, now: ContinuousClock.Instant = .now) -> Bool {
        let started = state.withLock {
            state -> ([CheckedContinuation<Void, Never>], [@Sendable (ContinuousClock.Instant) -> Void], ContinuousClock.Instant)? in
            guard state.drainDeadline == nil else { return nil }
            let deadline = now.advanced(by: timeout)
            state.drainDeadline = deadline
            let watchers = Array(state.drainWatchers.values)
            state.drainWatchers = [:]
            return (watchers, state.drainHandlers, deadline)
        }
        guard let (watchers, handlers, deadline) = started else { return false }
        for watcher in watchers { watcher.resume() }
        for handler in handlers { handler(deadline) }
        return true
    }

    /// Calls `handler` with the drain deadline when draining starts (at once when it has).
    public func whenDraining(_ handler: @escaping @Sendable (ContinuousClock.Instant) -> Void) {
        let deadline = state.withLock { state -> ContinuousClock.Instant? in
            if state.drainDeadline == nil { state.drainHandlers.append(handler) }
            return state.drainDeadline
        }
        if let deadline { handler(deadline) }
    }

    /// The deadline a request whose own deadline is `deadline` works to: the earlier of it and
    /// the drain deadline.
    public func effectiveDeadline(_ deadline: ContinuousClock.Instant) -> ContinuousClock.Instant {
        guard let drainDeadline else { return deadline }
        return min(deadline, drainDeadline)
    }

    /// Whether a request may start.
    public enum Admission: Sendable, Equatable {
        /// Counted as running: the caller must call ``finish()`` exactly once.
        case admitted
        /// Refused: the gateway is draining.
        case draining
        /// Refused: `limit` requests are already running.
        case full
    }

    /// Counts one more running request, unless draining or `limit` are already running.
    /// - Parameter limit: most requests running at once (`maxCallersWaiting`).
    public func admit(limit: Int = .max) -> Admission {
        state.withLock { state in
            guard state.drainDeadline == nil else { return .draining }
            guard state.running < limit else { return .full }
            state.running += 1
            return .admitted
        }
    }

    /// Counts one admitted request as answered.
    public func finish() {
        let watchers = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.running = max(0, state.running - 1)
            guard state.running == 0 else { return [] }
            let watchers = Array(state.idleWatchers.values)
            state.idleWatchers = [:]
            return watchers
        }
        for watcher in watchers { watcher.resume() }
    }

    /// Returns once no admitted request is running (at once when none is), or when the calling
    /// task is cancelled.
    public func waitUntilIdle() async {
        await wait(for: .idle)
    }

    /// Returns once draining has started (at once when it has), or when the calling task is
    /// cancelled.
    /// - Returns: whether draining has started.
    @discardableResult
    public func waitUntilDraining() async -> Bool {
        await wait(for: .draining)
        return isDraining
    }

    /// Suspends until `event` has happened or the task is cancelled. Each continuation is
    /// resumed exactly once: by the registration itself, by the state change, or by the
    /// cancellation handler, each under the lock.
    private func wait(for event: Event) async {
        let id = state.withLock { state in
            state.nextWatcherID += 1
            return state.nextWatcherID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.has(event) || Task.isCancelled { return true }
                    state.addWatcher(id, of: event, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { $0.removeWatcher(id, of: event) }
            continuation?.resume()
        }
    }
}

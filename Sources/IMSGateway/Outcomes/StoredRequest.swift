import Foundation
import IMSClient
import Synchronization

/// One accept/reject request as the outcome store keeps it: its plan, the latest state of each
/// batch while it runs, and its outcome once it has one. Callers that repeat the request with
/// the same `Idempotency-Key` wait on it (``outcome(waitingUntil:)``) instead of submitting
/// again, and `GET /accept-images/{request_id}` reads it.
public final class StoredRequest: Sendable {
    /// The gateway's id of the request (`request_id` of its answers), a UUID it made.
    public let requestID: String
    /// The caller's correlation id (its `X-Request-Id`, or the request id): sent upstream.
    public let correlationID: String
    /// The client that sent it (from the clients file).
    public let clientName: String
    /// The route it came to, e.g. `/accept-images`.
    public let route: String
    /// The validated request.
    public let plan: MemberStatusPlan
    /// SHA-256 (hex) of what makes two bodies "the same request": member status, project,
    /// vault and the normalised images in order.
    public let fingerprint: String
    /// The caller's `Idempotency-Key`, if it sent one.
    public let idempotencyKey: String?
    /// When the request arrived (for `elapsed_ms`).
    public let started: ContinuousClock.Instant
    /// When the request arrived, on the wall clock (what the store keeps).
    public let createdAt: Date
    /// When the background wait for its jobs gives up (`wait.maxBackgroundSeconds` after it
    /// arrived, or after a repeat resumed it).
    public let backgroundUntil: ContinuousClock.Instant
    /// The client as a caller of the IMS call budget (its name and weight when it arrived).
    public let upstreamCaller: UpstreamCaller

    private struct State {
        var batches: [BatchResult]
        var outcome: MemberStatusResult?
        var isFinal = false
        var completedAt: ContinuousClock.Instant?
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state: Mutex<State>

    /// A request as it starts, or as it is resumed from the store.
    /// - Parameters:
    ///   - batches: its batches as they stand (all not submitted for a new request).
    ///   - weight: the client's share of the IMS call budget (1 unless the clients file gives
    ///     one).
    ///   - backgroundUntil: when the background wait gives up.
    public init(
        requestID: String, correlationID: String? = nil, clientName: String, route: String? = nil,
        plan: MemberStatusPlan, batches: [BatchResult]? = nil, idempotencyKey: String?,
        started: ContinuousClock.Instant, createdAt: Date = Date(), backgroundUntil: ContinuousClock.Instant,
        weight: Double = 1
    ) {
        self.requestID = requestID
        self.correlationID = correlationID ?? requestID
        self.clientName = clientName
        self.route = route ?? (plan.memberStatus == .accepted ? "/accept-images" : "/reject-images")
        self.upstreamCaller = UpstreamCaller(client: clientName, weight: weight)
        self.plan = plan
        self.fingerprint = plan.fingerprint
        self.idempotencyKey = idempotencyKey
        self.started = started
        self.createdAt = createdAt
        self.backgroundUntil = backgroundUntil
        self.state = Mutex(State(
            batches: batches ?? plan.batches.enumerated().map { BatchResult(index: $0.offset, images: $0.element) }))
    }

    /// Records the latest state of one batch (its job id once submitted, its last job state).
    public func record(_ batch: BatchResult) {
        state.withLock { state in
            guard state.outcome == nil, state.batches.indices.contains(batch.index) else { return }
            state.batches[batch.index] = batch
        }
    }

    /// Records the latest state of several batches.
    public func record(_ batches: [BatchResult]) {
        for batch in batches { record(batch) }
    }

    /// Whether the request has an outcome (final or given up).
    public var isComplete: Bool { state.withLock { $0.outcome != nil } }

    /// The outcome, when complete and final (every batch succeeded, failed or could not be
    /// submitted): the one a repeat gets.
    public var finalOutcome: MemberStatusResult? {
        state.withLock { $0.isFinal ? $0.outcome : nil }
    }

    /// When the outcome was stored; nil while running.
    public var completedAt: ContinuousClock.Instant? { state.withLock { $0.completedAt } }

    /// The outcome if complete, else the request as it stands now (jobs `pending`, `elapsed_ms`
    /// up to `now`).
    public func current(now: ContinuousClock.Instant = .now) -> MemberStatusResult {
        state.withLock { state in
            state.outcome
                ?? MemberStatusResult(
                    requestID: requestID, plan: plan, batches: state.batches,
                    elapsedMs: started.duration(to: now).wholeMilliseconds)
        }
    }

    /// Stores the outcome and wakes every caller waiting on it. Later calls change nothing.
    /// - Parameters:
    ///   - outcome: the result of the whole request.
    ///   - isFinal: false when the request ended without a final state for every batch (the
    ///     background wait gave up, or nothing could be submitted): such an outcome is shown but
    ///     never replayed to a repeat.
    ///   - now: when it was stored (the TTL counts from here).
    /// - Returns: whether this call stored it.
    @discardableResult
    public func complete(_ outcome: MemberStatusResult, isFinal: Bool, now: ContinuousClock.Instant = .now) -> Bool {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>]? in
            guard state.outcome == nil else { return nil }
            state.outcome = outcome
            state.isFinal = isFinal
            state.completedAt = now
            state.batches = outcome.batches
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        guard let waiters else { return false }
        for waiter in waiters { waiter.resume() }
        return true
    }

    /// Waits until the request is complete or `deadline` passes, whichever is first.
    /// - Returns: the outcome when complete (final or not), nil when the deadline came first.
    public func outcome(waitingUntil deadline: ContinuousClock.Instant) async -> MemberStatusResult? {
        let completed = await withTaskGroup(of: Bool.self) { group -> Bool in
            group.addTask { await self.waitForCompletion() }
            group.addTask {
                try? await Task.sleep(until: deadline, tolerance: nil, clock: .continuous)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        guard completed else { return state.withLock { $0.outcome } }
        return state.withLock { $0.outcome }
    }

    /// Returns true once complete; false when the calling task is cancelled first.
    private func waitForCompletion() async -> Bool {
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.outcome != nil || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
        return isComplete
    }
}

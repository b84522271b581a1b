import IMSClient
import Synchronization

/// The requests the gateway remembers, for `Idempotency-Key` repeats and
/// `GET /accept-images/{request_id}` (docs/ARCHITECTURE.md, "Retried calls").
///
/// Bounded in memory: a complete request is forgotten `ttl` after its outcome was stored, and
/// beyond `maxCount` requests the oldest complete ones are forgotten first. Running requests are
/// never forgotten (the callers-waiting cap and the background wait bound them). Requests are
/// found by client and request id; an `Idempotency-Key` is scoped to its client. Each client
/// may have a bounded number of requests not yet complete (running, or waited on in the
/// background); a repeat that joins or replays an earlier request does not count.
public final class OutcomeStore: Sendable {
    /// What ``begin(_:now:)`` found for a request.
    public enum Admission: Sendable {
        /// Nothing stored under its key: the caller runs it (the store now holds it).
        case new(StoredRequest)
        /// The same client sent the same key and body before: the caller waits on that one.
        case repeated(StoredRequest)
        /// The same client sent the same key with another body (HTTP 422).
        case conflict(StoredRequest)
        /// The client already has `limit` requests not yet complete: not stored (HTTP 429).
        case tooManyPending(limit: Int)
    }

    private struct IdempotencyScope: Hashable {
        var client: String
        var key: String
    }

    private struct RequestScope: Hashable {
        var client: String
        var memberStatus: MemberStatus
        var requestID: String

        init(_ request: StoredRequest) {
            self.init(client: request.clientName, memberStatus: request.plan.memberStatus, requestID: request.requestID)
        }

        init(client: String, memberStatus: MemberStatus, requestID: String) {
            self.client = client
            self.memberStatus = memberStatus
            self.requestID = requestID
        }
    }

    private struct State {
        var byRequest: [RequestScope: StoredRequest] = [:]
        var byKey: [IdempotencyScope: StoredRequest] = [:]
        /// Every stored request, oldest first, from `head` on.
        var order: [StoredRequest] = []
        var head = 0
        /// When the next full pass for expired requests is due.
        var nextSweep: ContinuousClock.Instant?
        /// Requests not yet complete, by client (absent when none).
        var pending: [String: Int] = [:]
    }

    /// Most requests kept (default 10,000).
    public let maxCount: Int
    /// How long a complete request is kept after its outcome, in seconds (default 86,400).
    public let ttl: Duration
    private let state = Mutex(State())

    /// - Parameters:
    ///   - maxCount: most requests kept, at least 1.
    ///   - ttl: how long a complete request is kept after its outcome was stored.
    public init(maxCount: Int = 10_000, ttl: Duration = .seconds(86_400)) {
        self.maxCount = max(1, maxCount)
        self.ttl = ttl
    }

    /// Registers `request`, unless its client already sent its `Idempotency-Key` within the TTL:
    /// then the earlier request is returned, as a repeat (same body) or a conflict (another
    /// body). A key whose earlier request ended without a final outcome (given up, nothing
    /// submitted) is free again. A new request of a client that already has `maxPending`
    /// requests not yet complete is refused (``Admission/tooManyPending(limit:)``).
    /// - Parameters:
    ///   - maxPending: most requests of the client not yet complete, at least 1.
    public func begin(
        _ request: StoredRequest, maxPending: Int = .max, now: ContinuousClock.Instant = .now
    ) -> Admission {
        state.withLock { state in
            evict(&state, now: now)
            var scope: IdempotencyScope?
            if let key = request.idempotencyKey {
                let keyScope = IdempotencyScope(client: request.clientName, key: key)
                if let earlier = state.byKey[keyScope] {
                    return earlier.fingerprint == request.fingerprint ? .repeated(earlier) : .conflict(earlier)
                }
                scope = keyScope
            }
            let pending = state.pending[request.clientName, default: 0]
            guard pending < max(1, maxPending) else { return .tooManyPending(limit: max(1, maxPending)) }
            state.pending[request.clientName] = pending + 1
            if let scope { state.byKey[scope] = request }
            // A caller that sends the same X-Request-Id twice finds the newer one by it.
            state.byRequest[RequestScope(request)] = request
            state.order.append(request)
            evict(&state, now: now)
            return .new(request)
        }
    }

    /// Stores the outcome of `request` and wakes the callers waiting on it.
    /// - Parameters:
    ///   - isFinal: false when some batch has no final state (given up, nothing submitted): its
    ///     `Idempotency-Key` is freed so that a repeat runs the request again.
    public func complete(
        _ request: StoredRequest, with outcome: MemberStatusResult, isFinal: Bool, now: ContinuousClock.Instant = .now
    ) {
        guard request.complete(outcome, isFinal: isFinal, now: now) else { return }
        state.withLock { state in
            let pending = state.pending[request.clientName, default: 1] - 1
            state.pending[request.clientName] = pending > 0 ? pending : nil
            guard !isFinal, let key = request.idempotencyKey else { return }
            let scope = IdempotencyScope(client: request.clientName, key: key)
            if state.byKey[scope] === request { state.byKey[scope] = nil }
        }
    }

    /// Requests of `client` not yet complete (running, or waited on in the background).
    public func pendingCount(client: String) -> Int {
        state.withLock { $0.pending[client, default: 0] }
    }

    /// The request `requestID` of `clientName` that set `memberStatus` (accept and reject are
    /// separate resources), if still kept.
    public func find(
        client clientName: String, memberStatus: MemberStatus = .accepted, requestID: String,
        now: ContinuousClock.Instant = .now
    ) -> StoredRequest? {
        state.withLock { state in
            evict(&state, now: now)
            return state.byRequest[RequestScope(client: clientName, memberStatus: memberStatus, requestID: requestID)]
        }
    }

    /// Requests kept now (running and complete).
    public var count: Int { state.withLock { $0.order.count - $0.head } }

    /// Forgets complete requests older than the TTL, then the oldest complete ones beyond
    /// `maxCount`. Cheap on every call: it takes from the front while the oldest request can go;
    /// a full pass (when a running request at the front blocks it) runs at most once a minute or
    /// when over `maxCount`, and then frees a tenth more room than needed.
    private func evict(_ state: inout State, now: ContinuousClock.Instant) {
        func expired(_ request: StoredRequest) -> Bool {
            request.completedAt.map { $0.advanced(by: ttl) <= now } ?? false
        }
        while state.head < state.order.count {
            let oldest = state.order[state.head]
            guard oldest.isComplete, expired(oldest) || state.order.count - state.head > maxCount else { break }
            forget(oldest, in: &state)
            state.head += 1
        }
        let kept = state.order.count - state.head
        if kept > maxCount || state.nextSweep.map({ now >= $0 }) ?? true {
            state.nextSweep = now.advanced(by: .seconds(60))
            var excess = kept > maxCount ? kept - maxCount + maxCount / 10 : 0
            var remaining: [StoredRequest] = []
            remaining.reserveCapacity(kept)
            for request in state.order[state.head...] {
                if request.isComplete, expired(request) || excess > 0 {
                    forget(request, in: &state)
                    excess -= 1
                } else {
                    remaining.append(request)
                }
            }
            state.order = remaining
            state.head = 0
        } else if state.head > 1024, state.head * 2 > state.order.count {
            state.order.removeFirst(state.head)
            state.head = 0
        }
    }

    private func forget(_ request: StoredRequest, in state: inout State) {
        let requestScope = RequestScope(request)
        if state.byRequest[requestScope] === request { state.byRequest[requestScope] = nil }
        if let key = request.idempotencyKey {
            let scope = IdempotencyScope(client: request.clientName, key: key)
            if state.byKey[scope] === request { state.byKey[scope] = nil }
        }
    }
}

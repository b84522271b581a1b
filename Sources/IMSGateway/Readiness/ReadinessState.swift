import Synchronization

/// What `GET /readyz` reports: configured, upstream credentials proven, not draining.
public final class ReadinessState: Sendable {
    /// A snapshot of the state.
    public struct Snapshot: Sendable, Equatable {
        /// IMS accepted the credentials at the last probe.
        public var credentialsProven: Bool
        /// Why the last probe failed (no secret in it), nil after a success.
        public var lastProblem: String?
        /// Shutdown has begun: no new requests.
        public var draining: Bool

        /// Ready for traffic.
        public var isReady: Bool { credentialsProven && !draining }
    }

    private let state = Mutex(Snapshot(credentialsProven: false, lastProblem: "credentials not proven yet", draining: false))

    /// Creates a state: not proven, not draining.
    public init() {}

    /// The current snapshot.
    public var snapshot: Snapshot { state.withLock { $0 } }

    func proven() {
        state.withLock {
            $0.credentialsProven = true
            $0.lastProblem = nil
        }
    }

    func unproven(_ problem: String) {
        state.withLock {
            $0.credentialsProven = false
            $0.lastProblem = problem
        }
    }

    /// Marks the gateway as draining (readiness goes 503 for good).
    public func startDraining() {
        state.withLock { $0.draining = true }
    }
}

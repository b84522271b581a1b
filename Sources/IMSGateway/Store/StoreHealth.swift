import Foundation
import GatewayStore
import IMSClient
import Logging
import Synchronization

/// Whether the store answers, as the request path last saw it (docs/ARCHITECTURE.md, "State
/// and recovery"): every store write and read reports here. A failure makes it unreachable
/// until the next success. `/readyz` shows it in its body and stays 200 (every replica shares
/// the store, and an empty Service answers nobody); one log line marks each change.
final class StoreHealth: Sendable {
    /// What `/readyz` shows: `{"reachable": true}`, or during an outage
    /// `{"reachable": false, "failing_for_seconds": 12, "error": "unavailable", "failures": 7}`
    /// (`error` is the ``StoreError/Kind`` of the last failure: no path, no statement).
    struct Snapshot: Sendable, Equatable, Encodable {
        var reachable: Bool
        /// Whole seconds since the first failure of this outage.
        var failingForSeconds: Int?
        var error: String?
        /// Failed operations in this outage (retries included).
        var failures: Int?

        enum CodingKeys: String, CodingKey {
            case reachable
            case failingForSeconds = "failing_for_seconds"
            case error
            case failures
        }
    }

    private struct Outage {
        var since: ContinuousClock.Instant
        var kind: StoreError.Kind
        var failures: Int
        /// When ``skipsStore(now:)`` last let a call through to the store.
        var lastProbe: ContinuousClock.Instant?
    }

    /// During an outage, how often a call that could do without the store (a shared bucket
    /// take, which has a fallback) still tries it, to see whether it is back.
    static let probeInterval: Duration = .seconds(1)

    /// Whether a call that has a fallback should skip the store now: during an outage, yes,
    /// except for one call per ``probeInterval``, which tries it (and ends the outage when it
    /// answers). Spares every such call the wait for a connection (up to 5 s) while the store
    /// is known to be down.
    func skipsStore(now: ContinuousClock.Instant = .now) -> Bool {
        outage.withLock { outage in
            guard var current = outage else { return false }
            if let last = current.lastProbe, last.duration(to: now) < Self.probeInterval { return true }
            current.lastProbe = now
            outage = current
            return false
        }
    }

    private let outage = Mutex<Outage?>(nil)
    private let logger: Logger
    private let metrics: GatewayMetrics?

    /// - Parameter metrics: where `imsgw_store_reachable` is kept (1 from the start).
    init(logger: Logger, metrics: GatewayMetrics? = nil) {
        self.logger = logger
        self.metrics = metrics
        metrics?.storeReachable(true)
    }

    /// A store operation succeeded: the outage, if any, is over.
    func succeeded() {
        guard let ended = outage.withLock({ outage -> Outage? in
            defer { outage = nil }
            return outage
        }) else { return }
        metrics?.storeReachable(true)
        logger.notice(
            "store reachable again",
            metadata: ["failures": "\(ended.failures)", "outage_ms": "\(ended.since.duration(to: .now).wholeMilliseconds)"])
    }

    /// A store operation failed with `error`.
    func failed(_ error: StoreError) {
        // `notFound` is an answer, not an outage.
        guard error.kind != .notFound else { return }
        let started = outage.withLock { outage -> Bool in
            if outage == nil {
                outage = Outage(since: .now, kind: error.kind, failures: 1)
                return true
            }
            outage?.kind = error.kind
            outage?.failures += 1
            return false
        }
        if started {
            metrics?.storeReachable(false)
            logger.error("store unreachable; new requests are refused (503) until it answers", metadata: ["error": "\(error)"])
        }
    }

    /// The state as it stands.
    func snapshot(now: ContinuousClock.Instant = .now) -> Snapshot {
        guard let current = outage.withLock({ $0 }) else { return Snapshot(reachable: true) }
        return Snapshot(
            reachable: false, failingForSeconds: Int(current.since.duration(to: now).components.seconds),
            error: current.kind.rawValue, failures: current.failures)
    }
}

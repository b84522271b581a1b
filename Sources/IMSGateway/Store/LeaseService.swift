import Foundation
import GatewayStore
import Logging
import ServiceLifecycle

/// Keeps this replica's leases on a shared (PostgreSQL) store (docs/ARCHITECTURE.md,
/// "Replicas"). Every `store.leaseRenewSeconds` it renews the leases of the requests it runs
/// (one statement), stops those another replica took over meanwhile, and, unless the gateway
/// drains, takes over the running requests whose lease expired (their replica was killed or
/// cut off, or released them on SIGTERM), resuming them as a start resumes what it finds.
/// On graceful shutdown, which reaches it after the drain and the HTTP server have stopped,
/// it releases its leases, so that another replica takes the cut requests over at once.
struct LeaseService: Service {
    let store: any GatewayStore
    let registry: RequestRegistry
    let drain: DrainController
    /// `store.leaseRenewSeconds`.
    let interval: Duration
    /// `upstream.timeoutMs`: a taken-over batch whose last attempt has no job id is submitted
    /// again only once that attempt is older.
    let submitTimeout: Duration
    /// Stores this replica's heartbeat and updates the count of replicas alive (shared
    /// budgets); nil when the store keeps no heartbeats.
    var heartbeat: (@Sendable () async throws -> Void)? = nil
    let metrics: GatewayMetrics
    let logger: Logger
    /// Most requests taken over in one pass.
    static let claimBatch = 100

    func run() async throws {
        var lastRenewal = ContinuousClock.now
        while !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            } catch {
                break
            }
            if await renewOnce() { lastRenewal = .now }
            await beat()
            metrics.leaseRenewalLag(lastRenewal.duration(to: .now))
            if !drain.isDraining { await claimOnce() }
        }
        await release()
    }

    /// Renews the leases and stops the requests no longer leased here.
    /// - Returns: whether the renewal was stored.
    @discardableResult
    func renewOnce() async -> Bool {
        // Read before the renewal, and only requests whose row had committed by then: one
        // admitted after it, or whose admission is still open, is not in its answer yet.
        let running = registry.running.filter(\.isStored)
        let leased: Set<String>
        do {
            leased = try await store.renewLeases()
        } catch {
            logger.error("leases not renewed; retried next pass", metadata: ["error": "\(error)"])
            return false
        }
        let lost = running.filter { !leased.contains($0.request.requestID) && !$0.isSettled }
        for driver in lost {
            logger.warning(
                "request taken over by another replica; this one stops working on it",
                metadata: ["request_id": "\(driver.request.requestID)"])
            driver.leaseLost()
        }
        return true
    }

    /// Takes over the requests whose lease expired, in batches of ``claimBatch``.
    /// - Returns: how many were taken.
    @discardableResult
    func claimOnce() async -> Int {
        var total = 0
        while !Task.isCancelled, !drain.isDraining {
            let taken: [StoredRequestSnapshot]
            do {
                taken = try await store.claimExpiredLeases(limit: Self.claimBatch)
            } catch {
                logger.error("expired leases not taken over; retried next pass", metadata: ["error": "\(error)"])
                break
            }
            guard !taken.isEmpty else { break }
            let sorted = RecoveredRequests.sorted(taken, submitTimeout: submitTimeout)
            await registry.adopt(sorted)
            total += taken.count
            logger.notice(
                "requests taken over from another replica",
                metadata: [
                    "resumed": "\(sorted.resumed.count)", "given_up": "\(sorted.expired.count)",
                    "request_ids": "\(taken.map(\.request.id).joined(separator: ","))",
                ])
            if taken.count < Self.claimBatch { break }
        }
        if total > 0 { metrics.takenOver(total) }
        return total
    }

    /// Stores the heartbeat; a failure is logged and retried next pass (the count of replicas
    /// alive keeps its last value).
    private func beat() async {
        guard let heartbeat else { return }
        do {
            try await heartbeat()
        } catch {
            logger.error("heartbeat not stored; retried next pass", metadata: ["error": "\(error)"])
        }
    }

    /// Releases this replica's leases (it stops).
    private func release() async {
        do {
            let released = try await store.releaseLeases()
            logger.notice("leases released", metadata: ["count": "\(released)"])
        } catch {
            logger.error(
                "leases not released; other replicas take the requests over once they expire",
                metadata: ["error": "\(error)"])
        }
    }
}

import Foundation
import GatewayStore
import Logging
import ServiceLifecycle

/// Deletes finished requests `outcomes.ttlSeconds` after they ended, in small batches, never a
/// running one (docs/ARCHITECTURE.md, "State and recovery").
struct OutcomeReaper: Service {
    let store: any GatewayStore
    /// How long a finished request is kept.
    let ttl: Duration
    /// How often the reaper looks.
    let interval: Duration
    /// Most requests deleted in one transaction.
    let batchSize: Int
    let metrics: GatewayMetrics
    let logger: Logger

    func run() async throws {
        // Nothing is urgent at start: the first pass comes one interval later.
        while !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            } catch {
                return
            }
            await reapOnce()
        }
    }

    /// Deletes what expired, batch after batch.
    /// - Returns: how many requests were deleted.
    @discardableResult
    func reapOnce(now: Date = Date()) async -> Int {
        let cut = now.addingTimeInterval(-ttl.seconds)
        var total = 0
        while !Task.isCancelled {
            do {
                let deleted = try await store.deleteFinished(finishedBefore: cut, limit: batchSize)
                total += deleted
                if deleted < batchSize { break }
            } catch {
                logger.error("finished requests not deleted; retried later", metadata: ["error": "\(error)"])
                break
            }
        }
        if total > 0 {
            metrics.reaped(total)
            logger.info("finished requests deleted", metadata: ["count": "\(total)"])
        }
        return total
    }
}

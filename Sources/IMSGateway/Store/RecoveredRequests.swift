import Foundation
import GatewayStore

/// The requests found `running` in the store at start (docs/ARCHITECTURE.md, "State and
/// recovery"), sorted: those to resume (their batches ready to go on) and those past their
/// background deadline, to store as `given_up` with their job ids.
public struct RecoveredRequests: Sendable {
    /// Requests to resume: jobs with a job id are polled again; batches whose last attempt has
    /// no job id are submitted again once that attempt is older than `upstream.timeoutMs`.
    let resumed: [ResumableRequest]
    /// Requests past `wait.maxBackgroundSeconds`.
    let expired: [StoredRequestSnapshot]

    /// Nothing to recover (a new store).
    public static let none = RecoveredRequests(resumed: [], expired: [])

    init(resumed: [ResumableRequest], expired: [StoredRequestSnapshot]) {
        self.resumed = resumed
        self.expired = expired
    }

    /// Takes the running requests of `store` that no live replica holds (on SQLite: all of
    /// them) and sorts them.
    /// - Parameters:
    ///   - submitTimeout: `upstream.timeoutMs`: how long a PUT sent before the restart may still
    ///     be answered.
    ///   - now: the wall-clock time to compare background deadlines with.
    /// - Throws: ``StoreError`` when the store cannot be read.
    public static func load(
        from store: any GatewayStore, submitTimeout: Duration, now: Date = Date()
    ) async throws(StoreError) -> RecoveredRequests {
        sorted(try await store.claimExpiredLeases(limit: Int.max), submitTimeout: submitTimeout, now: now)
    }

    /// Sorts running requests taken from the store (at start, or taken over from another
    /// replica).
    static func sorted(_ snapshots: [StoredRequestSnapshot], submitTimeout: Duration, now: Date = Date()) -> RecoveredRequests {
        var resumed: [ResumableRequest] = []
        var expired: [StoredRequestSnapshot] = []
        for snapshot in snapshots {
            if snapshot.request.backgroundUntil <= now {
                expired.append(snapshot)
            } else {
                resumed.append(
                    RequestRegistry.live(snapshot, backgroundUntil: snapshot.request.backgroundUntil, submitTimeout: submitTimeout))
            }
        }
        return RecoveredRequests(resumed: resumed, expired: expired)
    }
}

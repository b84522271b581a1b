import Foundation

/// IAM tokens per project, refreshed by one call at a time.
///
/// - A token is served until `expiresAt - refreshMargin`; after that the first caller starts
///   one refresh and, while the old token still has `minimumRemaining` left, every caller keeps
///   using the old token without waiting.
/// - Callers wait only when no usable token exists; all of them wait on the same refresh.
/// - A token is renewed at most half-way through its lifetime even when `refreshMargin` is
///   longer, so that a large margin cannot turn every call into an IAM call.
/// - A failed refresh is not remembered as permanent, but it is answered from memory for a
///   while, so that neither an IAM outage nor a wrong password turns into a loop of IAM calls:
///   after a failed background refresh the old token keeps serving for `failureBackoff`
///   seconds; a failed first fetch (IAM down, 5xx, 429) is remembered for the project for
///   `failureBackoff` seconds; an authentication failure (IAM refused the password) belongs to
///   the user, not the project, so it stops token requests for every project, for
///   `failureBackoff` seconds doubling with each consecutive refusal up to 5 minutes.
actor TokenCache {
    private enum Entry {
        case ready(IAMToken, refreshAt: Date, refreshNotBefore: Date?)
        case refreshing(Task<IAMToken, any Error>, previous: IAMToken?, generation: Int)
        case failed(IMSClientError, at: Date)
    }

    private let refreshMargin: TimeInterval
    private let minimumRemaining: TimeInterval
    private let failureBackoff: TimeInterval
    private let now: @Sendable () -> Date
    private let fetch: @Sendable (String) async throws(IMSClientError) -> IAMToken
    private var entries: [String: Entry] = [:]
    private var generation = 0
    /// The last IAM refusal of the user's credentials and how many came in a row.
    private var refusal: (error: IMSClientError, until: Date, consecutive: Int)?

    /// - Parameters:
    ///   - refreshMargin: seconds before `expiresAt` at which a refresh starts.
    ///   - minimumRemaining: seconds of validity below which the old token is no longer handed out.
    ///   - failureBackoff: seconds an IAM authentication failure is remembered.
    ///   - now: the clock.
    ///   - fetch: obtains a new token for a project.
    init(
        refreshMargin: TimeInterval,
        minimumRemaining: TimeInterval = 30,
        failureBackoff: TimeInterval = 5,
        now: @escaping @Sendable () -> Date,
        fetch: @escaping @Sendable (String) async throws(IMSClientError) -> IAMToken
    ) {
        self.refreshMargin = refreshMargin
        self.minimumRemaining = min(minimumRemaining, refreshMargin)
        self.failureBackoff = failureBackoff
        self.now = now
        self.fetch = fetch
    }

    /// A usable token for `projectID`.
    /// - Throws: the ``IMSClientError`` of the refresh when there is no usable token.
    func token(for projectID: String) async throws(IMSClientError) -> IAMToken {
        let current = now()
        let task: Task<IAMToken, any Error>
        switch entries[projectID] {
        case .ready(let token, let refreshAt, let notBefore):
            let usable = current < token.expiresAt.addingTimeInterval(-minimumRemaining)
            if current < refreshAt { return token }
            if let notBefore, current < notBefore, usable { return token }
            if let refusal, current < refusal.until {
                if usable { return token }
                throw refusal.error
            }
            task = startRefresh(projectID, previous: token)
            if usable { return token }
        case .refreshing(let running, let previous, _):
            if let previous, current < previous.expiresAt.addingTimeInterval(-minimumRemaining) { return previous }
            task = running
        case .failed(let error, let at):
            if current < at.addingTimeInterval(failureBackoff) { throw error }
            if let refusal, current < refusal.until { throw refusal.error }
            task = startRefresh(projectID, previous: nil)
        case nil:
            if let refusal, current < refusal.until { throw refusal.error }
            task = startRefresh(projectID, previous: nil)
        }
        do {
            return try await task.value
        } catch let error as IMSClientError {
            throw error
        } catch {
            throw IMSClientError.credentials("token refresh failed: \(error)")
        }
    }

    /// Drops `tokenValue` for `projectID` if it is the cached one (IMS refused it).
    func invalidate(projectID: String, tokenValue: String) {
        switch entries[projectID] {
        case .ready(let token, _, _) where token.value == tokenValue:
            entries[projectID] = nil
        case .refreshing(let task, let previous, let generation) where previous?.value == tokenValue:
            entries[projectID] = .refreshing(task, previous: nil, generation: generation)
        default:
            break
        }
    }

    private func startRefresh(_ projectID: String, previous: IAMToken?) -> Task<IAMToken, any Error> {
        generation += 1
        let mine = generation
        let task = Task { try await self.refresh(projectID, generation: mine) }
        entries[projectID] = .refreshing(task, previous: previous, generation: mine)
        return task
    }

    private func refresh(_ projectID: String, generation: Int) async throws -> IAMToken {
        do {
            let obtained = now()
            let token = try await fetch(projectID)
            refusal = nil
            if case .refreshing(_, _, generation) = entries[projectID] {
                let halfLife = max(0, token.expiresAt.timeIntervalSince(obtained)) / 2
                let refreshAt = token.expiresAt.addingTimeInterval(-min(refreshMargin, halfLife))
                entries[projectID] = .ready(token, refreshAt: refreshAt, refreshNotBefore: nil)
            }
            return token
        } catch {
            let failedAt = now()
            if case .authentication = error {
                let consecutive = (refusal?.consecutive ?? 0) + 1
                let pause = min(300, failureBackoff * pow(2, Double(consecutive - 1)))
                refusal = (error, failedAt.addingTimeInterval(pause), consecutive)
            }
            if case .refreshing(_, let previous, generation) = entries[projectID] {
                let retryAt = failedAt.addingTimeInterval(failureBackoff)
                if let previous {
                    entries[projectID] = .ready(previous, refreshAt: failedAt, refreshNotBefore: retryAt)
                } else {
                    entries[projectID] = .failed(error, at: failedAt)
                }
            }
            throw error
        }
    }
}

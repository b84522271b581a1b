import Foundation
import Synchronization

/// Everything the simulator remembers: issued tokens, submitted jobs, call counters.
final class SimulatorState: Sendable {
    struct Token {
        var projectID: String
        var expiresAt: Date
    }

    struct SimJob {
        var id: String
        var projectID: String
        var images: [String]
        var memberStatus: String
        var notShared: [String]
        var createdAt: ContinuousClock.Instant
        var createdAtDate: Date
        var duration: Duration
    }

    private struct Storage {
        var tokens: [String: Token] = [:]
        var jobs: [String: SimJob] = [:]
        var calls: [String: Int] = [:]
        var tokensIssued = 0
        var authFailures = 0
        var memberStatuses: [String: [String: String]] = [:]
    }

    let configuration: SimulatorConfiguration
    private let storage = Mutex(Storage())

    init(configuration: SimulatorConfiguration) {
        self.configuration = configuration
    }

    func count(_ operation: String) {
        storage.withLock { $0.calls[operation, default: 0] += 1 }
    }

    func countAuthFailure() {
        storage.withLock { $0.authFailures += 1 }
    }

    func issueToken(projectID: String) -> (value: String, expiresAt: Date) {
        var bytes = [UInt8](repeating: 0, count: 1536)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = generator.next() }
        // Real tokens are several KB of base64 starting with "MII".
        let value = "MIIsim" + Data(bytes).base64EncodedString()
        let expiresAt = Date().addingTimeInterval(TimeInterval(configuration.tokenLifetimeSeconds))
        storage.withLock {
            $0.tokens[value] = Token(projectID: projectID, expiresAt: expiresAt)
            $0.tokensIssued += 1
        }
        return (value, expiresAt)
    }

    /// Forgets every issued token (as a password change does): their next use is 401 APIGW.0301.
    func revokeAllTokens() -> Int {
        storage.withLock { storage in
            defer { storage.tokens.removeAll() }
            return storage.tokens.count
        }
    }

    func token(_ value: String) -> Token? {
        storage.withLock { $0.tokens[value] }
    }

    func createJob(projectID: String, images: [String], memberStatus: String) -> SimJob {
        let shared = configuration.sharedImages[projectID] ?? []
        var generator = SystemRandomNumberGenerator()
        let id = "ff808081" + (0..<24).map { _ in String(Int.random(in: 0..<16, using: &generator), radix: 16) }.joined()
        let job = SimJob(
            id: id, projectID: projectID, images: images, memberStatus: memberStatus,
            notShared: images.filter { !shared.contains($0) }, createdAt: .now, createdAtDate: Date(),
            duration: configuration.jobDuration)
        storage.withLock {
            $0.jobs[id] = job
            if job.notShared.isEmpty {
                for image in images { $0.memberStatuses[projectID, default: [:]][image] = memberStatus }
            }
        }
        return job
    }

    func job(_ id: String) -> SimJob? {
        storage.withLock { $0.jobs[id] }
    }

    /// The `/_sim/stats` document.
    func stats() -> [String: Any] {
        storage.withLock { storage in
            [
                "calls": storage.calls,
                "tokens_issued": storage.tokensIssued,
                "auth_failures": storage.authFailures,
                "jobs_created": storage.jobs.count,
                "member_statuses": storage.memberStatuses,
            ]
        }
    }
}

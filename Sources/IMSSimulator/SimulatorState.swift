import Foundation
import Synchronization

/// Everything the simulator remembers: issued tokens, submitted jobs, call counters, and the
/// running fault plan (``faults``).
final class SimulatorState: Sendable {
    struct Token {
        var projectID: String
        var expiresAt: Date
    }

    /// What a poll of a known job gets.
    struct ServedPoll {
        var job: SimJob
        /// 0 for the job's first served poll.
        var index: Int
    }

    private struct Storage {
        var tokens: [String: Token] = [:]
        var jobs: [String: SimJob] = [:]
        /// Job IDs in creation order, for `GET /_sim/jobs`.
        var jobOrder: [String] = []
        var calls: [String: Int] = [:]
        var tokensIssued = 0
        var authFailures = 0
        var memberStatuses: [String: [String: String]] = [:]
    }

    /// The assumed IMS error code of a whole-machine image accepted without `vault_id`: no
    /// IMS page gives one.
    static let vaultRequiredCode = "IMG.0197"

    let configuration: SimulatorConfiguration
    let faults: FaultInjector
    private let storage = Mutex(Storage())

    init(configuration: SimulatorConfiguration) {
        self.configuration = configuration
        self.faults = FaultInjector(plan: configuration.faults)
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

    /// Creates the job of an accepted BatchUpdateMembers call. Its images fail when they are not
    /// shared with the project (IMG.0104), or when they are whole-machine images accepted
    /// without `vault_id` (``vaultRequiredCode``).
    func createJob(projectID: String, images: [String], memberStatus: String, vaultID: String?) -> SimJob {
        let shared = configuration.sharedImages[projectID] ?? []
        let needsVault = memberStatus == "accepted" && (vaultID ?? "").isEmpty
        let failures = images.compactMap { image -> SimJob.ImageFailure? in
            if !shared.contains(image) {
                return .init(imageID: image, code: "IMG.0104", reason: "image \(image) is not shared with project \(projectID)")
            }
            if needsVault, configuration.wholeMachineImages.contains(image) {
                return .init(
                    imageID: image, code: Self.vaultRequiredCode,
                    reason: "image \(image) is a whole-machine image: vault_id is required to accept it")
            }
            return nil
        }
        var generator = SystemRandomNumberGenerator()
        let id = "ff808081" + (0..<24).map { _ in String(Int.random(in: 0..<16, using: &generator), radix: 16) }.joined()
        let planned = faults.planJob(images: images)
        let job = SimJob(
            id: id, projectID: projectID, images: images, memberStatus: memberStatus, vaultID: vaultID,
            failures: failures, createdAt: .now, createdAtDate: Date(), duration: planned.duration,
            faults: planned.faults)
        storage.withLock {
            $0.jobs[id] = job
            $0.jobOrder.append(id)
            if failures.isEmpty, planned.duration != nil {
                for image in images { $0.memberStatuses[projectID, default: [:]][image] = memberStatus }
            }
        }
        return job
    }

    func job(_ id: String) -> SimJob? {
        storage.withLock { $0.jobs[id] }
    }

    /// Counts a ShowJob/ShowJobProgress call naming `jobID`, whatever its answer will be.
    func countPoll(_ jobID: String) {
        storage.withLock { $0.jobs[jobID]?.polls += 1 }
    }

    /// A poll that reached the job `jobID` of `projectID`; `nil` when there is no such job.
    func servePoll(_ jobID: String, projectID: String) -> ServedPoll? {
        storage.withLock { storage in
            guard var job = storage.jobs[jobID], job.projectID == projectID else { return nil }
            let index = job.servedPolls
            job.servedPolls += 1
            storage.jobs[jobID] = job
            return ServedPoll(job: job, index: index)
        }
    }

    /// Records that a poll's intact answer showed `jobID` final at `date` (the first time only).
    func recordFinalSeen(_ jobID: String, at date: Date) {
        storage.withLock { storage in
            if storage.jobs[jobID]?.firstFinalPollAt == nil { storage.jobs[jobID]?.firstFinalPollAt = date }
        }
    }

    /// The jobs, in creation order.
    func allJobs() -> [SimJob] {
        storage.withLock { storage in storage.jobOrder.compactMap { storage.jobs[$0] } }
    }

    /// The `/_sim/stats` document.
    func stats() -> [String: Any] {
        var document = storage.withLock { storage -> [String: Any] in
            [
                "calls": storage.calls,
                "tokens_issued": storage.tokensIssued,
                "auth_failures": storage.authFailures,
                "jobs_created": storage.jobs.count,
                "member_statuses": storage.memberStatuses,
            ]
        }
        document.merge(faults.statsFields()) { current, _ in current }
        return document
    }
}

import Foundation
import GatewayStore
import IMSClient
import Logging
import Prometheus

@testable import IMSGateway

/// The whole flow above IMS with no server: a ``RequestRegistry`` and its drivers on a real
/// SQLite store, a ``JobScheduler`` on a ``ManualClock``, and ``FakeIMSJobs`` for IMS. The test
/// moves the clock; nothing sleeps but ``eventually(_:_:)``'s short real pauses while tasks run.
final class LifecycleFlow: Sendable {
    static let projectID = "0123456789abcdef0123456789abcdef"
    static let logger = Logger(label: "lifecycle-flow", factory: { _ in SwiftLogNoOpLogHandler() })

    let clock: ManualClock
    let jobs: FakeIMSJobs
    let store: SQLiteGatewayStore
    let scheduler: JobScheduler
    let drain = DrainController()
    let registry: RequestRegistry
    let context: LifecycleContext
    let metrics = GatewayMetrics()
    let folder = TemporaryFolder()
    private let loop: Task<Void, Never>

    /// - Parameters:
    ///   - schedule: the poll schedule (jitter 0 keeps instants exact).
    ///   - fanOut: batches at once per request.
    init(
        jobs: (ManualClock) -> FakeIMSJobs, schedule: PollSchedule, fanOut: Int = 8, maxSubmitAttempts: Int = 4
    ) throws {
        let clock = ManualClock()
        self.clock = clock
        self.jobs = jobs(clock)
        store = try SQLiteGatewayStore(path: folder.path("store.sqlite"), gatewayVersion: GatewayVersion.current, logger: Self.logger)
        try store.migrate()
        let scheduler = JobScheduler(jobs: self.jobs, clock: clock)
        self.scheduler = scheduler
        let context = LifecycleContext(
            jobs: self.jobs, scheduler: scheduler,
            settings: RequestLifecycle.Settings(
                fanOut: fanOut, maxSubmitAttempts: maxSubmitAttempts, finalPollMargin: schedule.finalPollMargin),
            pollSchedule: schedule, planner: nil,
            retryPolicy: SubmitRetryPolicy(maxAttempts: maxSubmitAttempts, baseDelay: .seconds(1), maxDelay: .seconds(1)),
            readiness: ReadinessState(), drain: drain, metrics: metrics, log: RequestLog(logger: Self.logger),
            logger: Self.logger)
        self.context = context
        registry = RequestRegistry(store: store, maxBackgroundWait: .seconds(3600), context: context, logger: Self.logger)
        loop = Task { await scheduler.run() }
    }

    /// Stops the scheduler, closes the store and removes its folder.
    func stop() {
        loop.cancel()
        try? store.close()
        folder.remove()
    }

    /// Admits a request of `batches` batches of one image each, `key` its Idempotency-Key.
    /// - Returns: its driver.
    func admit(batches count: Int, key: String? = nil, backgroundFor: Duration = .seconds(3600), fanOut: Int = 8) async throws -> LifecycleDriver {
        let images = (0..<count).map { String(format: "00000000-0000-4000-8000-%012d", $0) }
        let plan = MemberStatusPlan(
            projectID: Self.projectID, memberStatus: .accepted, vaultID: nil, images: images, batches: images.map { [$0] },
            warnings: [])
        let now = clock.now
        let request = StoredRequest(
            requestID: UUID().uuidString.lowercased(), clientName: "team-a", plan: plan, idempotencyKey: key, started: now,
            backgroundUntil: now.advanced(by: backgroundFor))
        var batches = plan.batches.enumerated().map { LifecycleBatch(index: $0.offset, images: $0.element) }
        for index in batches.indices.prefix(fanOut) { batches[index].storedAttempts = 1 }
        let admission = await registry.begin(
            request, batches: batches, limits: AdmissionLimits(maxRunning: 100, maxStored: 1000),
            deadline: Date().addingTimeInterval(30))
        guard case .new(let driver) = admission else { throw FlowError("not admitted: \(admission)") }
        return driver
    }

    /// Waits (real time, at most 60 s: other suites may keep the cooperative threads busy) until
    /// `condition` holds.
    func eventually(_ what: String, _ condition: @Sendable () async -> Bool) async throws {
        let limit = ContinuousClock.now.advanced(by: .seconds(60))
        while ContinuousClock.now < limit {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw FlowError("never happened: \(what)")
    }

    /// Waits until `count` polls are queued in the scheduler and none is in flight.
    func pollsQueued(_ count: Int) async throws {
        try await eventually("\(count) polls queued") {
            let waiting = self.scheduler.pollsWaiting
            return waiting.queued == count && waiting.inFlight == 0
        }
    }

    /// The value of the `imsgw_background_waits` gauge as `/metrics` renders it.
    var backgroundWaits: Double? {
        var bytes: [UInt8] = []
        metrics.registry.emit(into: &bytes)
        let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix("imsgw_background_waits ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    struct FlowError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

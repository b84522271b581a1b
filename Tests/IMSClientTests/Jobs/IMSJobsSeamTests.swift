import CurlHTTP
import IMSSimulator
import Logging
import Testing

@testable import IMSClient

/// The `IMSJobs` seam: the wait loop runs against a fake with no server, and IMSClient turns a
/// deadline into the transfer's time limit.
@Suite("IMSJobs seam", .serialized)
struct IMSJobsSeamTests {
    static let projectID = "0123456789abcdef0123456789abcdef"
    static let schedule = PollSchedule(
        initialDelay: .milliseconds(10), growthFactor: 1, maxDelay: .milliseconds(10), jitter: 0,
        finalPollMargin: .milliseconds(5))
    static let caller = UpstreamCaller(client: "team-a", weight: 2)

    @Test("JobWaiter over a fake: INIT, a lost poll, RUNNING, SUCCESS; each poll gets the wait's deadline")
    func waiterPendingToSuccess() async throws {
        let lost = IMSClientError.transport(
            UpstreamTransportError(kind: .timedOut, mayHaveReachedServer: true, message: "IMS unreachable: timed out"))
        let fake = FakeIMSJobs(showJobAnswers: [
            .success(Job(status: .initializing, rawStatus: "INIT", jobID: "job-1")),
            .failure(lost),
            .success(Job(status: .running, rawStatus: "RUNNING", jobID: "job-1")),
            .success(Job(status: .success, rawStatus: "SUCCESS", jobID: "job-1", endTime: "2024-01-02T03:04:05Z")),
        ])
        let waiter = JobWaiter(client: fake, schedule: Self.schedule, clock: ContinuousClock())
        let deadline = ContinuousClock.now.advanced(by: .seconds(600))
        let outcome = await waiter.wait(
            projectID: Self.projectID, jobID: "job-1", deadline: deadline, correlationID: "req-42", caller: Self.caller)

        guard case .finished = outcome.ending else {
            Issue.record("the wait did not finish: \(outcome.ending)")
            return
        }
        #expect(outcome.job?.status == .success)
        #expect(outcome.job?.endTime == "2024-01-02T03:04:05Z")
        #expect(outcome.polls == 4)
        #expect(outcome.lastError == nil)
        let calls = await fake.showJobs
        #expect(calls.count == 4)
        #expect(calls.allSatisfy { $0.projectID == Self.projectID && $0.jobID == "job-1" })
        #expect(calls.allSatisfy { $0.deadline == deadline })
        #expect(calls.allSatisfy { $0.correlationID == "req-42" && $0.caller == Self.caller && $0.priority == .poll })
        #expect(await fake.submits.isEmpty)
        // The schedule's pause lies between two polls.
        for (earlier, later) in zip(calls, calls.dropFirst()) {
            #expect(earlier.at.duration(to: later.at) >= .milliseconds(10))
        }
    }

    @Test("SharedJobPollers over a fake: two callers, one loop, background priority once every caller is background")
    func sharedPollersOverFake() async throws {
        let fake = FakeIMSJobs(showJobAnswers: [
            .success(Job(status: .running, rawStatus: "RUNNING")),
            .success(Job(status: .running, rawStatus: "RUNNING")),
            .success(Job(status: .success, rawStatus: "SUCCESS")),
        ])
        // A first poll 100 ms away: both callers are attached before it.
        let schedule = PollSchedule(
            initialDelay: .milliseconds(100), growthFactor: 1, maxDelay: .milliseconds(20), jitter: 0,
            finalPollMargin: .milliseconds(5))
        let pollers = SharedJobPollers(
            waiter: JobWaiter(client: fake, schedule: schedule, clock: ContinuousClock()), clock: ContinuousClock())
        let deadline = ContinuousClock.now.advanced(by: .seconds(600))
        async let first = pollers.wait(
            projectID: Self.projectID, jobID: "job-2", deadline: deadline, correlationID: "req-1", isBackground: true)
        async let second = pollers.wait(
            projectID: Self.projectID, jobID: "job-2", deadline: deadline, correlationID: "req-2", isBackground: true)
        let outcomes = await [first, second]
        #expect(outcomes.allSatisfy { $0.job?.status == .success && $0.polls == 3 })
        #expect(pollers.loopsStarted == 1)
        let calls = await fake.showJobs
        #expect(calls.count == 3)
        #expect(calls.allSatisfy { $0.deadline == deadline && $0.priority == .backgroundPoll && $0.caller == .gateway })
    }

    @Test("a wait on another clock hands IMSJobs the time left as a ContinuousClock deadline")
    func otherClockDeadline() async throws {
        let fake = FakeIMSJobs(showJobAnswers: [.success(Job(status: .success, rawStatus: "SUCCESS"))])
        let clock = SleepingTestClock()
        let waiter = JobWaiter(
            client: fake,
            schedule: PollSchedule(
                initialDelay: .zero, growthFactor: 1, maxDelay: .zero, jitter: 0, finalPollMargin: .zero),
            clock: clock)
        let before = ContinuousClock.now
        let outcome = await waiter.wait(projectID: Self.projectID, jobID: "job-3", deadline: clock.now.advanced(by: .seconds(3)))
        let after = ContinuousClock.now
        #expect(outcome.job?.status == .success)
        let deadline = try #require(await fake.showJobs.first?.deadline)
        #expect(deadline >= before.advanced(by: .seconds(3)))
        #expect(deadline <= after.advanced(by: .seconds(3)))
    }

    /// A simulator whose ShowJob answers only after `delay`, and an IMS client whose per-call
    /// timeout is `timeoutMilliseconds`. A call that ends well before `delay` was cut by its
    /// time limit (the bounds are loose: the machine may be busy with other tests).
    static func withSlowShowJob(
        delay: Duration, timeoutMilliseconds: Int, _ body: (IMSClient) async throws -> Void
    ) async throws {
        let quiet = Logger(label: "tests", factory: { _ in SwiftLogNoOpLogHandler() })
        var configuration = SimulatorConfiguration(users: [], sharedImages: [:], jobDuration: .milliseconds(100))
        configuration.accessKeys = [.init(accessKey: "SEAMTESTAK", secretKey: "seam-test-sk")]
        configuration.faults.calls = [
            CallFault(.delay(milliseconds: Int(delay.wholeMilliseconds)), operation: "ShowJob")
        ]
        let finalConfiguration = configuration
        let simulator = try await InProcessServer.start(logger: quiet) { onRunning in
            IMSSimulator.buildApplication(configuration: finalConfiguration, logger: quiet, onServerRunning: onRunning)
        }
        let http = try CurlHTTPClient()
        let client = IMSClient(
            configuration: IMSClientConfiguration(imsBaseURL: simulator.baseURL, timeoutMilliseconds: timeoutMilliseconds),
            http: http, credentials: AccessKeyCredentialProvider(accessKey: "SEAMTESTAK", secretKey: "seam-test-sk"),
            logger: quiet)
        do {
            try await body(client)
        } catch {
            await simulator.stop()
            http.shutdown()
            throw error
        }
        await simulator.stop()
        http.shutdown()
    }

    /// Calls ShowJob with `deadline` and returns the transport error and how long the call took.
    static func timedOutShowJob(
        _ client: IMSClient, deadline: ContinuousClock.Instant
    ) async -> (error: UpstreamTransportError?, took: Duration) {
        let started = ContinuousClock.now
        do throws(IMSClientError) {
            _ = try await client.showJob(
                projectID: projectID, jobID: "ff80808100000000000000000000dead", deadline: deadline, correlationID: nil,
                priority: .poll, caller: .gateway)
            return (nil, started.duration(to: .now))
        } catch {
            guard case .transport(let transport) = error else {
                Issue.record("not a transport error: \(error)")
                return (nil, started.duration(to: .now))
            }
            return (transport, started.duration(to: .now))
        }
    }

    @Test("IMSClient: a deadline 250 ms away is a transfer timeout of about 250 ms")
    func deadlineBecomesTransferTimeout() async throws {
        try await Self.withSlowShowJob(delay: .milliseconds(2_500), timeoutMilliseconds: 30_000) { client in
            let (error, took) = await Self.timedOutShowJob(client, deadline: .now.advanced(by: .milliseconds(250)))
            let transport = try #require(error)
            #expect(transport.kind == .timedOut)
            #expect(transport.code == "timedOut")
            #expect(transport.mayHaveReachedServer)
            #expect(transport.message.hasPrefix("IMS unreachable: "))
            #expect(IMSClientError.transport(transport).errorCode == "transport.timedOut")
            #expect(took >= .milliseconds(230), "took \(took)")
            #expect(took < .milliseconds(2_000), "took \(took)")
        }
    }

    @Test("IMSClient: a far deadline never lifts the transfer timeout above the configured per-call one")
    func configuredTimeoutCapsTheDeadline() async throws {
        try await Self.withSlowShowJob(delay: .milliseconds(2_500), timeoutMilliseconds: 300) { client in
            let (error, took) = await Self.timedOutShowJob(client, deadline: .now.advanced(by: .seconds(20)))
            let transport = try #require(error)
            #expect(transport.kind == .timedOut)
            #expect(took >= .milliseconds(280), "took \(took)")
            #expect(took < .milliseconds(2_000), "took \(took)")
        }
    }

    @Test("IMSClient: a deadline already passed is not sent at all")
    func passedDeadlineNotSent() async throws {
        try await Self.withSlowShowJob(delay: .milliseconds(2_500), timeoutMilliseconds: 30_000) { client in
            let started = ContinuousClock.now
            do throws(IMSClientError) {
                _ = try await client.showJob(
                    projectID: Self.projectID, jobID: "x", deadline: .now.advanced(by: .seconds(-1)), correlationID: nil,
                    priority: .poll, caller: .gateway)
                Issue.record("answered")
            } catch {
                // At least 1 ms is left for the call, as the callers computed it before: either
                // not sent (no time left), or sent with a 1 ms limit and timed out at once.
                switch error {
                case .throttled(nil, _): break
                case .transport(let transport): #expect(transport.kind == .timedOut)
                default: Issue.record("unexpected \(error)")
                }
            }
            #expect(started.duration(to: .now) < .milliseconds(200))
        }
    }
}

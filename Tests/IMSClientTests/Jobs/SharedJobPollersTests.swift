import CurlHTTP
import Foundation
import IMSSimulator
import Logging
import Testing

@testable import IMSClient

/// One poll loop per job, against the simulator over loopback.
@Suite("shared job pollers", .serialized)
struct SharedJobPollersTests {
    static let projectID = "0123456789abcdef0123456789abcdef"
    static let image = "d164b5df-1bc3-4c3f-893e-3e471fd16e64"
    static let schedule = PollSchedule(
        initialDelay: .milliseconds(100), growthFactor: 1, maxDelay: .milliseconds(100), jitter: 0,
        finalPollMargin: .milliseconds(20))

    /// A simulator whose jobs last `jobDuration`, an IMS client signing with AK/SK, and the
    /// job id of one submitted job.
    static func withJob(
        jobDuration: Duration, _ body: (IMSClient, String, InProcessServer, CurlHTTPClient) async throws -> Void
    ) async throws {
        let quiet = Logger(label: "tests", factory: { _ in SwiftLogNoOpLogHandler() })
        var configuration = SimulatorConfiguration(
            users: [], sharedImages: [projectID: [image]], jobDuration: jobDuration)
        configuration.accessKeys = [.init(accessKey: "POLLERTESTAK", secretKey: "poller-test-sk")]
        let finalConfiguration = configuration
        let simulator = try await InProcessServer.start(logger: quiet) { onRunning in
            IMSSimulator.buildApplication(configuration: finalConfiguration, logger: quiet, onServerRunning: onRunning)
        }
        let http = try CurlHTTPClient()
        let client = IMSClient(
            configuration: IMSClientConfiguration(imsBaseURL: simulator.baseURL), http: http,
            credentials: AccessKeyCredentialProvider(accessKey: "POLLERTESTAK", secretKey: "poller-test-sk"), logger: quiet)
        do {
            let jobID = try await client.submit(
                BatchUpdateMembersRequest(images: [image], projectID: projectID, status: .accepted, vaultID: nil),
                deadline: .now.advanced(by: .seconds(30)), correlationID: nil, caller: .gateway)
            try await body(client, jobID, simulator, http)
        } catch {
            await simulator.stop()
            http.shutdown()
            throw error
        }
        await simulator.stop()
        http.shutdown()
    }

    static func showJobCalls(_ http: CurlHTTPClient, _ simulator: InProcessServer) async throws -> Int {
        let response = try await http.execute(CurlHTTPRequest(method: "GET", url: simulator.baseURL + "/_sim/stats"))
        let stats = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        return (stats["calls"] as? [String: Any])?["ShowJob"] as? Int ?? 0
    }

    @Test("five callers on one job: one loop, each poll made once, every caller gets the final state")
    func oneLoopPerJob() async throws {
        try await Self.withJob(jobDuration: .milliseconds(700)) { client, jobID, simulator, http async throws in
            let pollers = SharedJobPollers(
                waiter: JobWaiter(client: client, schedule: Self.schedule, clock: ContinuousClock()), clock: ContinuousClock())
            let deadline = ContinuousClock.now.advanced(by: .seconds(10))
            let outcomes = await withTaskGroup(of: JobWaitOutcome.self) { group in
                for index in 0..<5 {
                    group.addTask {
                        try? await Task.sleep(for: .milliseconds(50 * index))
                        return await pollers.wait(projectID: Self.projectID, jobID: jobID, deadline: deadline)
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(pollers.loopsStarted == 1)
            #expect(outcomes.allSatisfy { $0.job?.status == .success })
            let polls = Set(outcomes.map(\.polls))
            #expect(polls.count == 1)
            #expect(try await Self.showJobCalls(http, simulator) == polls.first)
        }
    }

    @Test("a caller with an earlier deadline leaves with the last state; the others go on to the end")
    func earlierDeadlineLeaves() async throws {
        try await Self.withJob(jobDuration: .milliseconds(900)) { client, jobID, _, _ in
            let pollers = SharedJobPollers(
                waiter: JobWaiter(client: client, schedule: Self.schedule, clock: ContinuousClock()), clock: ContinuousClock())
            let start = ContinuousClock.now
            async let short = pollers.wait(projectID: Self.projectID, jobID: jobID, deadline: start.advanced(by: .milliseconds(350)))
            async let long = pollers.wait(projectID: Self.projectID, jobID: jobID, deadline: start.advanced(by: .seconds(10)))
            let shortOutcome = await short
            guard case .deadlinePassed = shortOutcome.ending else {
                Issue.record("the short wait did not end at its deadline")
                return
            }
            #expect(shortOutcome.job.map { !$0.status.isFinal } ?? true)
            #expect(start.duration(to: .now) < .milliseconds(800))
            let longOutcome = await long
            guard case .finished = longOutcome.ending else {
                Issue.record("the long wait did not finish")
                return
            }
            #expect(longOutcome.polls >= shortOutcome.polls)
            #expect(pollers.loopsStarted == 1)
        }
    }

    @Test("after every caller left, a new caller starts a new loop")
    func newLoopAfterAllLeft() async throws {
        try await Self.withJob(jobDuration: .milliseconds(600)) { client, jobID, _, _ in
            let pollers = SharedJobPollers(
                waiter: JobWaiter(client: client, schedule: Self.schedule, clock: ContinuousClock()), clock: ContinuousClock())
            let first = await pollers.wait(
                projectID: Self.projectID, jobID: jobID, deadline: .now.advanced(by: .milliseconds(150)))
            let second = await pollers.wait(
                projectID: Self.projectID, jobID: jobID, deadline: .now.advanced(by: .seconds(10)), previousPolls: first.polls)
            guard case .finished = second.ending else {
                Issue.record("the second wait did not finish")
                return
            }
            #expect(second.polls > first.polls)
            #expect(pollers.loopsStarted == 2)
        }
    }
}

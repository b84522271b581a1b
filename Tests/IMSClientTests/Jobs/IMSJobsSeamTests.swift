import CurlHTTP
import IMSSimulator
import Logging
import Testing

@testable import IMSClient

/// The `IMSJobs` seam of IMSClient: it turns a deadline into the transfer's time limit. (The
/// flow above it runs against a fake in IMSGatewayTests' lifecycle tests.)
@Suite("IMSJobs seam", .serialized)
struct IMSJobsSeamTests {
    static let projectID = "0123456789abcdef0123456789abcdef"

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
        try await Self.withSlowShowJob(delay: .seconds(5), timeoutMilliseconds: 30_000) { client in
            let (error, took) = await Self.timedOutShowJob(client, deadline: .now.advanced(by: .milliseconds(250)))
            let transport = try #require(error)
            #expect(transport.kind == .timedOut)
            #expect(transport.code == "timedOut")
            #expect(transport.mayHaveReachedServer)
            #expect(transport.message.hasPrefix("IMS unreachable: "))
            #expect(IMSClientError.transport(transport).errorCode == "transport.timedOut")
            #expect(took >= .milliseconds(230), "took \(took)")
            #expect(took < .milliseconds(2_500), "took \(took)")
        }
    }

    @Test("IMSClient: a far deadline never lifts the transfer timeout above the configured per-call one")
    func configuredTimeoutCapsTheDeadline() async throws {
        try await Self.withSlowShowJob(delay: .seconds(5), timeoutMilliseconds: 300) { client in
            let (error, took) = await Self.timedOutShowJob(client, deadline: .now.advanced(by: .seconds(20)))
            let transport = try #require(error)
            #expect(transport.kind == .timedOut)
            #expect(took >= .milliseconds(280), "took \(took)")
            #expect(took < .milliseconds(2_500), "took \(took)")
        }
    }

    @Test("IMSClient: a deadline already passed is not sent at all")
    func passedDeadlineNotSent() async throws {
        try await Self.withSlowShowJob(delay: .seconds(5), timeoutMilliseconds: 30_000) { client in
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
            #expect(started.duration(to: .now) < .milliseconds(2_500), "a 1 ms call that waited")
        }
    }
}

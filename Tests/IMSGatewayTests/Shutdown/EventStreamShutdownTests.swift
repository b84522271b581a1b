import CurlHTTP
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Event streams and SIGTERM (docs/ARCHITECTURE.md, "Progress events"): open streams end at
/// once with a `retry:` hint and do not hold up the drain; after a restart on the same store
/// the events URL resumes the request of the old process. The built binaries as children.
@Suite("event streams across a shutdown", .serialized)
struct EventStreamShutdownTests {
    @Test("SIGTERM: an open POST stream and an open GET stream end at once with retry:, the process exits well before its drain timeout; restarted on the same store, GET events with Last-Event-ID resumes with no gap until result")
    func streamsEndAtOnceAndResume() async throws {
        let fixture = try await CrashFixture.start(jobDurationMs: 6000)
        defer { fixture.stop() }
        let environment = ["IMSGW_DRAIN_TIMEOUT_SECONDS": "20"]
        let gateway = try fixture.launchGateway(environment: environment)
        _ = try await fixture.ready(gateway)
        let port = try await gateway.port(logLine: "ims-gateway listening")
        let images = CrashFixture.imageIDs.map { "\"\($0)\"" }.joined(separator: ",")
        let post = try await EventStreamClient.open(
            port: port, method: "POST", path: "/accept-images",
            headers: [
                ("Authorization", "Bearer \(fixture.clientKey)"), ("Content-Type", "application/json"),
                ("Accept", "text/event-stream"), ("Prefer", "wait=60"),
            ],
            body: Array(#"{"project_id":"\#(CrashFixture.projectID)","images":[\#(images)]}"#.utf8))
        #expect(post.head.status == 200)
        let admitted = try #require(try await post.next())
        let requestID = try #require(admitted.json["request_id"] as? String)
        // Wait for the job id (a batch event), so that the restart only polls.
        let submitted = try #require(try await post.next(timeout: .seconds(10)))
        #expect(submitted.type == "batch")
        let get = try await EventStreamClient.open(
            port: port, method: "GET", path: "/accept-images/\(requestID)/events",
            headers: [("Authorization", "Bearer \(fixture.clientKey)"), ("Last-Event-ID", submitted.lastEventID)])
        #expect(get.head.status == 200)

        let stopped = ContinuousClock.now
        gateway.signal(SIGTERM)
        _ = try await post.rest(timeout: .seconds(10))
        _ = try await get.rest(timeout: .seconds(10))
        #expect(post.ended && get.ended, "the streams did not end")
        #expect(post.parser.retryMilliseconds == 2000)
        #expect(get.parser.retryMilliseconds == 2000)
        #expect(ContinuousClock.now - stopped < .seconds(8), "the streams held on \(ContinuousClock.now - stopped)")
        #expect(try await gateway.waitForExit(within: .seconds(15)), "the drain waited for the streams:\n\(gateway.log)")

        let restarted = try fixture.launchGateway(environment: environment)
        _ = try await fixture.ready(restarted)
        let newPort = try await restarted.port(logLine: "ims-gateway listening")
        let resumed = try await EventStreamClient.open(
            port: newPort, method: "GET", path: "/accept-images/\(requestID)/events",
            headers: [("Authorization", "Bearer \(fixture.clientKey)"), ("Last-Event-ID", submitted.lastEventID)])
        let more = try await resumed.rest(timeout: .seconds(30))
        #expect(more.first.flatMap { Int($0.lastEventID) } == (Int(submitted.lastEventID) ?? 0) + 1, "\(more.map(\.lastEventID))")
        #expect(more.last?.type == "result")
        #expect(more.last?.json["status"] as? Int == 200)
        #expect(try await fixture.calls("BatchUpdateMembers") == 1)
    }
}

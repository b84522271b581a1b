import CurlHTTP
import Foundation
import IMSClient
import IMSGateway
import IMSSimulator
import Testing

/// Progress as Server-Sent Events (docs/ARCHITECTURE.md, "Progress events"): `POST` with
/// `Accept: text/event-stream` and `GET .../{request_id}/events`, read as they come over a raw
/// connection and parsed by the tests' own parser.
@Suite("progress events (Server-Sent Events)", .serialized)
struct EventStreamTests {
    static func postStream(
        _ harness: GatewayHarness, images: [String], wait: Int, key: String = testClientKey, route: String = "/accept-images"
    ) async throws -> EventStreamClient {
        let body = try JSONSerialization.data(withJSONObject: ["project_id": testProjectID, "images": images])
        return try await EventStreamClient.open(
            port: harness.gateway.port, method: "POST", path: route,
            headers: [
                ("Authorization", "Bearer \(key)"), ("Content-Type", "application/json"), ("Accept", "text/event-stream"),
                ("Prefer", "wait=\(wait)"),
            ],
            body: Array(body))
    }

    static func getStream(
        _ harness: GatewayHarness, _ path: String, key: String = testClientKey, lastEventID: String? = nil
    ) async throws -> EventStreamClient {
        var headers = [("Authorization", "Bearer \(key)"), ("Accept", "text/event-stream")]
        if let lastEventID { headers.append(("Last-Event-ID", lastEventID)) }
        return try await EventStreamClient.open(port: harness.gateway.port, method: "GET", path: path, headers: headers)
    }

    @Test("POST with Accept: text/event-stream: 200 text/event-stream at once, admitted first with the events URL, every batch's job id before the end, then result with status 200 and the final document; ids 1, 2, 3... in order")
    func postStreamsToResult() async throws {
        let images = testImages(5)
        let capture = LogCapture()
        try await withGateway(
            shared: images, jobDuration: .milliseconds(800), logger: capture.logger(), adjust: { $0.maxImagesPerJob = 2 }
        ) { harness in
            let stream = try await Self.postStream(harness, images: images, wait: 30)
            #expect(stream.head.status == 200)
            #expect(stream.head.header("Content-Type") == "text/event-stream")
            #expect(stream.head.header("Cache-Control") == "no-store")
            #expect(stream.head.header("X-Accel-Buffering") == "no")
            let admitted = try #require(try await stream.next())
            #expect(admitted.type == "admitted")
            #expect(admitted.lastEventID == "1")
            let requestID = try #require(admitted.json["request_id"] as? String)
            #expect(admitted.json["events_url"] as? String == "/accept-images/\(requestID)/events")
            #expect((admitted.json["batches"] as? [[String: Any]])?.count == 3)
            let rest = try await stream.rest()
            #expect(stream.ended)
            let events = [admitted] + rest
            #expect(events.map(\.lastEventID) == (1...events.count).map(String.init))
            let result = try #require(events.last)
            #expect(result.type == "result")
            #expect(result.json["status"] as? Int == 200)
            let document = try #require(result.json["document"] as? [String: Any])
            #expect(document["outcome"] as? String == "succeeded")
            let jobIDs = (document["batches"] as? [[String: Any]] ?? []).compactMap { $0["job_id"] as? String }
            #expect(jobIDs.count == 3)
            // Every batch showed its job id in a batch event before the result.
            let shown = Set(events.dropLast().filter { $0.type == "batch" }.compactMap { $0.json["job_id"] as? String })
            #expect(shown == Set(jobIDs))
            // The audit trail of a streamed request is the synchronous one: a line per batch.
            let audit = try await Self.eventually { capture.text.split(separator: "\n").filter { $0.contains("audit=true") && $0.contains(requestID) }.count == 3 }
            #expect(audit, "no audit lines for \(requestID)")
            // The same events, from the store, for a GET after the end; Last-Event-ID resumes after it.
            let again = try await Self.getStream(harness, "/accept-images/\(requestID)/events")
            #expect(again.head.status == 200)
            #expect(try await again.rest() == events)
            let resumed = try await Self.getStream(harness, "/accept-images/\(requestID)/events", lastEventID: "2")
            #expect(try await resumed.rest() == Array(events.dropFirst(2)))
        }
    }

    @Test("POST stream whose wait passes first: a timeout event with the 504 document and job ids ends it; GET events with Last-Event-ID resumes with no gap and no repeat until result")
    func timeoutThenResume() async throws {
        let images = testImages(1)
        // The job outlasts the wait by 4 s, room for a loaded machine.
        try await withGateway(shared: images, jobDuration: .seconds(6)) { harness in
            let stream = try await Self.postStream(harness, images: images, wait: 2)
            let events = try await stream.rest()
            #expect(events.first?.type == "admitted")
            let timeout = try #require(events.last)
            #expect(timeout.type == "timeout")
            #expect(timeout.json["status"] as? Int == 504)
            let document = try #require(timeout.json["document"] as? [String: Any])
            let requestID = try #require(document["request_id"] as? String)
            #expect((document["batches"] as? [[String: Any]])?.first?["job_id"] as? String != nil)
            let lastID = try #require(Int(timeout.lastEventID))
            let resumed = try await Self.getStream(harness, "/accept-images/\(requestID)/events", lastEventID: "\(lastID)")
            let more = try await resumed.rest()
            #expect(more.first.flatMap { Int($0.lastEventID) } == lastID + 1, "a gap or a repeat: \(more.map(\.lastEventID))")
            #expect(more.last?.type == "result")
            #expect(more.last?.json["status"] as? Int == 200)
            let all = try await Self.getStream(harness, "/accept-images/\(requestID)/events")
            #expect(try await all.rest() == events.dropLast() + more)
        }
    }

    @Test("an idle stream gets a comment every events.keepAliveSeconds")
    func keepAlive() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .milliseconds(2500), adjust: { $0.eventsKeepAliveSeconds = 1 }) {
            harness in
            let stream = try await Self.postStream(harness, images: images, wait: 30)
            let events = try await stream.rest()
            #expect(events.last?.type == "result")
            #expect(stream.parser.comments.filter { $0 == " keep-alive" }.count >= 1, "\(stream.parser.comments)")
        }
    }

    @Test("another client's request is 404; a Last-Event-ID that is not an id is 400 naming it; streams over events.maxStreamsPerClient get 429 too-many-streams")
    func refusals() async throws {
        let images = testImages(1)
        // The first stream stays open (its job runs 6 s) while the others are refused.
        try await withGateway(shared: images, jobDuration: .seconds(6), adjust: { $0.eventsMaxStreamsPerClient = 1 }) {
            harness in
            let first = try await Self.postStream(harness, images: images, wait: 30)
            let admitted = try #require(try await first.next())
            let path = "/accept-images/\(try #require(admitted.json["request_id"] as? String))/events"
            let foreign = try await Self.getStream(harness, path, key: otherClientKey)
            #expect(foreign.head.status == 404)
            let second = try await Self.getStream(harness, path)
            #expect(second.head.status == 429)
            let bad = try await harness.get(path, key: otherClientKey, headers: [("Last-Event-ID", "x")])
            #expect(bad.status == 404, "the request is checked first")
            _ = try await first.rest()
            let invalid = try await harness.get(path, key: testClientKey, headers: [("Last-Event-ID", "abc")])
            #expect(invalid.status == 400)
            #expect((invalid.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "Last-Event-ID")
        }
    }

    @Test("Last-Event-ID at or past the last event of an ended request: 204 (nothing more will come); other methods on the events URL and on /browser-tokens are 405 with Allow")
    func edges() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .milliseconds(200)) { harness in
            let stream = try await Self.postStream(harness, images: images, wait: 30)
            let events = try await stream.rest()
            let result = try #require(events.last)
            #expect(result.type == "result")
            let requestID = try #require((result.json["document"] as? [String: Any])?["request_id"] as? String)
            let path = "/accept-images/\(requestID)/events"
            let past = try await harness.get(path, key: testClientKey, headers: [("Last-Event-ID", "\(Int(result.lastEventID)! + 1)")])
            #expect(past.status == 204)
            #expect(try await harness.get(path, key: testClientKey, headers: [("Last-Event-ID", "999999999999999999")]).status == 204)
            #expect(try await harness.get(path, key: testClientKey, headers: [("Last-Event-ID", "9223372036854775807")]).status == 400)
            #expect(try await harness.get(path, key: testClientKey, headers: [("Last-Event-ID", "+1")]).status == 400)
            let done = try await harness.get(path, key: testClientKey, headers: [("Last-Event-ID", result.lastEventID)])
            #expect(done.status == 204)
            for (method, target, allow) in [("DELETE", path, "GET, HEAD"), ("PUT", "/browser-tokens", "POST")] {
                let answer = try await harness.http.execute(CurlHTTPRequest(
                    method: method, url: harness.gateway.baseURL + target,
                    headers: [(name: "Authorization", value: "Bearer \(testClientKey)")]))
                #expect(answer.status == 405, "\(method) \(target)")
                #expect(answer.header("Allow") == allow, "\(method) \(target)")
            }
        }
    }

    /// Polls `condition` every 20 ms for up to 5 s (the log line comes right after the stream ends).
    static func eventually(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<250 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }
}

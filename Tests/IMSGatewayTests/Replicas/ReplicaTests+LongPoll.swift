import CurlHTTP
import Foundation
import Testing

/// `GET .../{request_id}` with `Prefer: wait=N` (docs/ARCHITECTURE.md, "Repeats on another
/// replica"): on the replica that runs the request it joins the wait; on another it follows the
/// request in the store; either way it answers the final outcome once there, within N s.
extension ReplicaTests {
    /// `GET /accept-images/{requestID}` as the fixture's client, with `Prefer: wait=N` when given.
    static func read(_ fixture: CrashFixture, _ base: String, _ requestID: String, wait: Int?) -> CurlHTTPRequest {
        var request = fixture.stored(base, requestID: requestID)
        if let wait { request.headers.append((name: "Prefer", value: "wait=\(wait)")) }
        request.timeoutMilliseconds = 60_000
        return request
    }

    @Test("GET with Prefer: wait=20 on either replica waits for the job and answers 200 with the job id and Preference-Applied; without it, 202 at once")
    func longPollOnBothReplicas() async throws {
        try await Self.withDatabase { storeURL in
            let fixture = try await CrashFixture.start(jobDurationMs: 3000)
            defer { fixture.stop() }
            let ((_, aBase), (_, bBase)) = try await Self.twoReplicas(fixture, storeURL: storeURL)

            // Answered 504 after 1 s: the job (3 s) goes on in the background on A.
            let cut = try await fixture.http.execute(fixture.accept(aBase, key: "long-poll", waitSeconds: 1))
            #expect(cut.status == 504, "\(String(decoding: cut.body, as: UTF8.self))")
            let requestID = try #require(AnswerDocument(cut).requestID)

            let atOnce = try await fixture.http.execute(Self.read(fixture, bBase, requestID, wait: nil))
            #expect(atOnce.status == 202)
            #expect(atOnce.header("Preference-Applied") == nil)

            let onA = fixture.send(Self.read(fixture, aBase, requestID, wait: 20))
            let onB = fixture.send(Self.read(fixture, bBase, requestID, wait: 20))
            for (name, call) in [("A", onA), ("B", onB)] {
                guard case .success(let answer) = await call.value else {
                    Issue.record("\(name): no answer")
                    continue
                }
                #expect(answer.status == 200, "\(name): \(String(decoding: answer.body, as: UTF8.self))")
                #expect(AnswerDocument(answer).outcome == "succeeded", "\(name)")
                #expect(AnswerDocument(answer).jobIDs.count == 1, "\(name)")
                #expect(answer.header("Preference-Applied") == "wait=20", "\(name)")
            }
            #expect(try await fixture.calls(Self.submit) == 1)
        }
    }

    @Test("SIGTERM during long polls: the owner's long poll answers 202 (the request goes on, stored), and a follower on the other replica answers by the drain deadline, not at its 10 s safety read")
    func longPollsCutByDrain() async throws {
        try await Self.withDatabase { storeURL in
            let fixture = try await CrashFixture.start(jobDurationMs: 20_000)
            defer { fixture.stop() }
            let environment = ["IMSGW_DRAIN_TIMEOUT_SECONDS": "1"]
            let ((a, aBase), (b, bBase)) = try await Self.twoReplicas(fixture, environment: environment, storeURL: storeURL)
            let cut = try await fixture.http.execute(fixture.accept(aBase, key: "drained-poll", waitSeconds: 1))
            #expect(cut.status == 504)
            let requestID = try #require(AnswerDocument(cut).requestID)

            // B follows the request A runs; SIGTERM to B.
            let follower = fixture.send(Self.read(fixture, bBase, requestID, wait: 60))
            try await waitUntil("B's follower waiting") { try await Self.metric("imsgw_callers_waiting", fixture, bBase) == 1 }
            let stopped = ContinuousClock.now
            b.signal(SIGTERM)
            guard case .success(let followed) = await follower.value else { throw ChildProcessError("B's follower got no answer") }
            let followedAfter = ContinuousClock.now - stopped
            #expect(followed.status == 202, "\(String(decoding: followed.body, as: UTF8.self))")
            // Drain 1 s; the safety read would be at 10 s. Loose: a loaded machine.
            #expect(followedAfter < .seconds(6), "B's follower answered \(followedAfter) after SIGTERM")

            // A's own long poll, cut by A's drain: 202, never 504.
            let owner = fixture.send(Self.read(fixture, aBase, requestID, wait: 60))
            try await waitUntil("A's long poll waiting") { try await Self.metric("imsgw_callers_waiting", fixture, aBase) == 1 }
            a.signal(SIGTERM)
            guard case .success(let joined) = await owner.value else { throw ChildProcessError("A's long poll got no answer") }
            #expect(joined.status == 202, "\(String(decoding: joined.body, as: UTF8.self))")
            #expect(AnswerDocument(joined).outcome == "running")
        }
    }
}

extension ReplicaTests {
    @Test("a repeat on the other replica is woken by the owner's final write (a notification), not by its 10 s safety read: it answers within 3 s of the owner's caller")
    func followerWokenByNotification() async throws {
        try await Self.withDatabase { storeURL in
            let fixture = try await CrashFixture.start(jobDurationMs: 2500)
            defer { fixture.stop() }
            let ((a, aBase), (b, bBase)) = try await Self.twoReplicas(fixture, storeURL: storeURL)
            let listening = try await GracefulShutdownTests.poll(within: .seconds(10)) {
                b.log.contains("listening for request changes")
            }
            #expect(listening, "\(b.log)")

            let (http, first) = (fixture.http, fixture.accept(aBase, key: "woken", waitSeconds: 30))
            let owner = Task { () -> ContinuousClock.Instant? in
                guard (try? await http.execute(first))?.status == 200 else { return nil }
                return ContinuousClock.now
            }
            _ = try await Self.firstPolledJob(fixture, log: a.log)
            let repeated = try await fixture.http.execute(fixture.accept(bBase, key: "woken", waitSeconds: 30))
            let repeatedAt = ContinuousClock.now
            #expect(repeated.status == 200, "\(String(decoding: repeated.body, as: UTF8.self))")
            let ownerAt = try #require(await owner.value, "the owner's caller got no 200")
            let lag = ownerAt < repeatedAt ? ownerAt.duration(to: repeatedAt) : .zero
            #expect(lag < .seconds(3), "the follower answered \(lag) after the owner's caller")
            #expect(try await fixture.calls(Self.submit) == 1)
        }
    }
}

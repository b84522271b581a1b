import CurlHTTP
import Foundation
import PostgresTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Two (or three) built `ims-gateway serve` processes on one PostgreSQL database and one built
/// simulator (docs/ARCHITECTURE.md, "Replicas"): a replica killed with `kill -9` or stopped
/// with SIGTERM while its job runs, and the other taking the request over; the same request
/// sent to both replicas at once. Needs `POSTGRES_TEST_URL` (CI sets it); skipped without it
/// unless `POSTGRES_TEST_REQUIRED=1`, which makes them fail instead.
///
/// Leases are 2 s here (renewed every second), so a takeover after a kill comes within about
/// 3 s; real-time bounds are loose, as these run on loaded 2-core machines.
@Suite(
    "replicas on PostgreSQL: takeover, joining, shared budgets", .serialized,
    .enabled(if: PostgresTestServer.runs, "POSTGRES_TEST_URL is not set"))
struct ReplicaTests {
    static let submit = "BatchUpdateMembers"
    /// Short leases: expired 2 s after the last renewal.
    static let shortLeases = ["IMSGW_STORE_LEASE_SECONDS": "2", "IMSGW_STORE_LEASE_RENEW_SECONDS": "1"]

    @Test("kill -9 of the replica running a job: the other takes the request over once the lease expires and finishes it with the job id issued before the kill; a repeat on either replica gets it; IMS saw one submit")
    func killedReplicaTakenOver() async throws {
        try await Self.withDatabase { storeURL in
            let fixture = try await CrashFixture.start(jobDurationMs: 6000)
            defer { fixture.stop() }
            let ((a, aBase), (b, bBase)) = try await Self.twoReplicas(fixture, environment: Self.shortLeases, storeURL: storeURL)

            let killedCall = fixture.send(fixture.accept(aBase, key: "r-a", waitSeconds: 30))
            let jobID = try await Self.firstPolledJob(fixture, log: a.log)
            try await fixture.kill9(a)
            let killedAt = ContinuousClock.now
            #expect(try await fixture.jobs().first?.status != "SUCCESS", "the 6 s job ended before the kill: the test proves nothing")
            if case .success(let response) = await killedCall.value {
                Issue.record("the killed replica answered \(response.status)")
            }

            // B claims the expired lease by itself: nobody asks it to.
            let takenOver = try await GracefulShutdownTests.poll(within: .seconds(15), every: .milliseconds(100)) {
                try await Self.metric("imsgw_requests_taken_over_total", fixture, bBase) == 1
            }
            #expect(takenOver, "replica B did not take the request over:\n\(b.log)")
            let tookMs = Self.milliseconds(killedAt.duration(to: .now))
            #expect(tookMs <= 10_000, "taken over \(tookMs) ms after the kill, with a lease of 2 s")
            #expect(b.log.contains("requests taken over from another replica"))

            let repeated = try await fixture.http.execute(fixture.accept(bBase, key: "r-a", waitSeconds: 30))
            let answer = AnswerDocument(repeated)
            #expect(repeated.status == 200, "\(String(decoding: repeated.body, as: UTF8.self))\n\(b.log)")
            #expect(answer.outcome == "succeeded")
            #expect(answer.jobIDs == [jobID])
            #expect(answer.submitAttempts == [1])

            // A replica started afterwards (the killed one coming back) answers the same.
            let c = try fixture.launchGateway(environment: Self.shortLeases, storeURL: storeURL)
            let cBase = try await fixture.ready(c)
            let onC = try await fixture.http.execute(fixture.accept(cBase, key: "r-a", waitSeconds: 30))
            #expect(onC.status == 200, "\(String(decoding: onC.body, as: UTF8.self))\n\(c.log)")
            #expect(AnswerDocument(onC).requestID == answer.requestID)
            #expect(AnswerDocument(onC).jobIDs == [jobID])
            #expect(try await Self.metric("imsgw_requests_taken_over_total", fixture, cBase) == 0)

            #expect(try await fixture.calls(Self.submit) == 1)
            #expect(try await fixture.jobs().map(\.id) == [jobID])
        }
    }

    @Test("20 identical requests with one Idempotency-Key spread over two replicas at once: one submit, every caller gets the same request id and job id")
    func identicalRequestsOnBothReplicas() async throws {
        try await Self.withDatabase { storeURL in
            let fixture = try await CrashFixture.start(jobDurationMs: 1500)
            defer { fixture.stop() }
            let ((a, aBase), (b, bBase)) = try await Self.twoReplicas(fixture, environment: Self.shortLeases, storeURL: storeURL)

            let calls = (0..<20).map { index in
                fixture.send(fixture.accept(index.isMultiple(of: 2) ? aBase : bBase, key: "r-b", waitSeconds: 30))
            }
            var requestIDs = Set<String?>()
            var jobIDs = Set<[String]>()
            for call in calls {
                switch await call.value {
                case .success(let response):
                    #expect(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))")
                    requestIDs.insert(AnswerDocument(response).requestID)
                    jobIDs.insert(AnswerDocument(response).jobIDs)
                case .failure(let error):
                    Issue.record("a call failed: \(error)")
                }
            }
            #expect(requestIDs.count == 1 && requestIDs.first! != nil, "request ids: \(requestIDs)")
            #expect(jobIDs.count == 1 && jobIDs.first?.count == 1, "job ids: \(jobIDs)")
            #expect(try await fixture.calls(Self.submit) == 1, "A:\n\(a.log)\nB:\n\(b.log)")
            #expect(try await fixture.jobs().count == 1)
        }
    }

    @Test("SIGTERM of the replica running a job: it releases its leases after the drain, and the other takes the request over well before the 30 s lease would expire")
    func stoppedReplicaReleases() async throws {
        try await Self.withDatabase { storeURL in
            let fixture = try await CrashFixture.start(jobDurationMs: 8000)
            defer { fixture.stop() }
            let environment = [
                "IMSGW_STORE_LEASE_SECONDS": "30", "IMSGW_STORE_LEASE_RENEW_SECONDS": "1", "IMSGW_DRAIN_TIMEOUT_SECONDS": "1",
            ]
            let ((a, aBase), (b, bBase)) = try await Self.twoReplicas(fixture, environment: environment, storeURL: storeURL)

            let cutCall = fixture.send(fixture.accept(aBase, key: "r-c", waitSeconds: 30))
            let jobID = try await Self.firstPolledJob(fixture, log: a.log)
            a.signal(SIGTERM)
            let stoppedAt = ContinuousClock.now
            #expect(try await a.waitForExit(within: .seconds(15)), "replica A did not exit after SIGTERM:\n\(a.log)")
            #expect(a.terminationStatus == 0)
            #expect(a.log.contains("leases released"))
            // Cut at the drain deadline: 504 with the job id.
            if case .success(let response) = await cutCall.value {
                #expect(response.status == 504, "\(String(decoding: response.body, as: UTF8.self))")
                #expect(AnswerDocument(response).jobIDs == [jobID])
            }

            let takenOver = try await GracefulShutdownTests.poll(within: .seconds(15), every: .milliseconds(100)) {
                try await Self.metric("imsgw_requests_taken_over_total", fixture, bBase) == 1
            }
            let tookMs = Self.milliseconds(stoppedAt.duration(to: .now))
            #expect(takenOver, "replica B did not take the request over:\n\(b.log)")
            #expect(tookMs < 20_000, "taken over \(tookMs) ms after SIGTERM: the lease was not released")
            #expect(try await fixture.jobs().first?.status != "SUCCESS" || tookMs < 8000)

            let repeated = try await fixture.http.execute(fixture.accept(bBase, key: "r-c", waitSeconds: 30))
            #expect(repeated.status == 200, "\(String(decoding: repeated.body, as: UTF8.self))\n\(b.log)")
            #expect(AnswerDocument(repeated).outcome == "succeeded")
            #expect(AnswerDocument(repeated).jobIDs == [jobID])
            #expect(try await fixture.calls(Self.submit) == 1)
        }
    }

    // MARK: - Helpers

    /// Two `serve` processes on `storeURL` with `environment` added, started one after the
    /// other (the first migrates), each with its base URL once ready.
    static func twoReplicas(
        _ fixture: CrashFixture, environment: [String: String] = [:], storeURL: String
    ) async throws -> ((ChildProcess, String), (ChildProcess, String)) {
        let a = try fixture.launchGateway(environment: environment, storeURL: storeURL)
        let aBase = try await fixture.ready(a)
        let b = try fixture.launchGateway(environment: environment, storeURL: storeURL)
        return ((a, aBase), (b, try await fixture.ready(b)))
    }

    /// Runs `body` with the `store.url` of a new database, dropped afterwards.
    static func withDatabase(_ body: (String) async throws -> Void) async throws {
        let database = try await PostgresTestServer.createDatabase()
        do {
            try await body(try PostgresTestServer.storeURL(database: database))
        } catch {
            try? await PostgresTestServer.dropDatabase(database)
            throw error
        }
        try await PostgresTestServer.dropDatabase(database)
    }

    /// Waits until the simulator has seen a poll of its first job (so its job id is stored,
    /// which comes before the first poll) and returns that job's id.
    static func firstPolledJob(_ fixture: CrashFixture, log: @autoclosure () -> String) async throws -> String {
        var job: SimulatorJob?
        let polled = try await GracefulShutdownTests.poll(within: .seconds(15), every: .milliseconds(20)) {
            job = try await fixture.jobs().first
            return (job?.polls ?? 0) >= 1
        }
        try #require(polled, "the job was not submitted and polled:\n\(log())")
        #expect(try await fixture.calls(Self.submit) == 1)
        return try #require(job?.id)
    }

    /// `duration` in whole milliseconds.
    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// The value of a counter or gauge without labels in `GET /metrics` of `base`; 0 when absent.
    static func metric(_ name: String, _ fixture: CrashFixture, _ base: String) async throws -> Int {
        let response = try await fixture.http.execute(CurlHTTPRequest(method: "GET", url: base + "/metrics"))
        for line in String(decoding: response.body, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] == name, let value = Double(fields[1]) { return Int(value) }
        }
        return 0
    }
}

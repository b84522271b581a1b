import CurlHTTP
import Foundation
import PostgresNIO
import PostgresTestSupport
import Testing

/// Races between a replica's own writes and the database, forced by holding a lock from a
/// connection of the test (as a slow transaction of another replica would), found by review.
extension ReplicaTests {
    /// The first key of the admission advisory locks (`PostgresGatewayStore.admissionLockClass`, "IMSG").
    static let admissionLockClass: Int32 = 0x494D_5347

    @Test("an admission that commits while a lease renewal runs is not taken for lost: the request runs and succeeds")
    func admissionDuringRenewal() async throws {
        try await Self.withDatabase { storeURL in
            let fixture = try await CrashFixture.start(jobDurationMs: 300)
            defer { fixture.stop() }
            let gateway = try fixture.launchGateway(environment: Self.shortLeases, storeURL: storeURL)
            let base = try await fixture.ready(gateway)
            let database = try #require(URL(string: storeURL)?.lastPathComponent)
            // The client's admission lock held for 3 s: the admission waits, known to the
            // replica but not committed, through two or three renewals.
            let holder = Task {
                try await PostgresTestServer.withConnection(database: database) { connection in
                    try await connection.query("BEGIN", logger: Self.logger)
                    try await connection.query(
                        "SELECT pg_advisory_xact_lock(\(Self.admissionLockClass), hashtext(\(CrashFixture.clientName)))",
                        logger: Self.logger)
                    try await Task.sleep(for: .seconds(3))
                    try await connection.query("COMMIT", logger: Self.logger)
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            let answer = try await fixture.http.execute(fixture.accept(base, key: "during-renewal", waitSeconds: 30))
            try await holder.value
            #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))\n\(gateway.log)")
            #expect(AnswerDocument(answer).outcome == "succeeded")
            #expect(!gateway.log.contains("taken over by another replica"), "\(gateway.log)")
            #expect(try await fixture.calls(Self.submit) == 1)
        }
    }

    @Test("a repeat on another replica that waits behind the owner's final write answers that outcome and never makes the request running again")
    func repeatBehindFinalWrite() async throws {
        try await Self.withDatabase { storeURL in
            let fixture = try await CrashFixture.start(jobDurationMs: 1000)
            defer { fixture.stop() }
            let ((a, aBase), (b, bBase)) = try await Self.twoReplicas(fixture, storeURL: storeURL)
            let database = try #require(URL(string: storeURL)?.lastPathComponent)

            let first = fixture.send(fixture.accept(aBase, key: "behind-final", waitSeconds: 30))
            let jobID = try await Self.firstPolledJob(fixture, log: a.log)
            // Every write of the request waits while the test holds its row: A's final write
            // (the job ends within 1 s), then B's resume.
            let holder = Task {
                try await PostgresTestServer.withConnection(database: database) { connection in
                    try await connection.query("BEGIN", logger: Self.logger)
                    try await connection.query(
                        "SELECT id FROM requests WHERE idempotency_key = 'behind-final' FOR UPDATE", logger: Self.logger)
                    try await Task.sleep(for: .seconds(3))
                    try await connection.query("COMMIT", logger: Self.logger)
                }
            }
            try await Task.sleep(for: .milliseconds(2500))
            let repeated = fixture.send(fixture.accept(bBase, key: "behind-final", waitSeconds: 30))
            try await holder.value
            guard case .success(let original) = await first.value, case .success(let again) = await repeated.value else {
                Issue.record("a caller got no answer")
                return
            }
            #expect(original.status == 200)
            #expect(again.status == 200, "\(String(decoding: again.body, as: UTF8.self))\n\(b.log)")
            #expect(AnswerDocument(again).outcome == "succeeded")
            #expect(AnswerDocument(again).jobIDs == [jobID])
            let state = try await PostgresTestServer.withConnection(database: database) { connection in
                try await connection.query(
                    "SELECT state FROM requests WHERE idempotency_key = 'behind-final'", logger: Self.logger
                ).collect().first?.decode(String.self)
            }
            #expect(state == "final")
            #expect(try await fixture.calls(Self.submit) == 1)
        }
    }

    static let logger = Logger(label: "replica-tests")
}

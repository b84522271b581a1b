import CurlHTTP
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A PostgreSQL store that goes away (docs/ARCHITECTURE.md, "Replicas"; README, "State"): a
/// cluster of the test's own (scripts/postgres-cluster.sh, as CI makes the shared one), halted
/// and resumed on the same port while a built `serve` runs on it, and one halted before
/// `serve` starts. Runs where the shared server runs (PostgreSQL's binaries are there).
extension ReplicaTests {
    /// A throwaway cluster of scripts/postgres-cluster.sh in a folder of its own.
    struct OwnCluster {
        let folder: String
        let url: String

        static let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/postgres-cluster.sh").path

        static func start() async throws -> OwnCluster {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("imsgw-pg-\(UUID().uuidString)").path
            let url = try await run("start", folder).trimmingCharacters(in: .whitespacesAndNewlines)
            return OwnCluster(folder: folder, url: url)
        }

        /// `store.url` of the cluster's `postgres` database.
        var storeURL: String { url }

        func halt() async throws { try await Self.run("halt", folder) }
        func resume() async throws { try await Self.run("resume", folder) }
        /// Stops the cluster and removes its folder; waits on a thread of its own, so that a
        /// `defer` can call it.
        func stop() {
            let line = "bash '\(Self.script)' stop '\(folder)' </dev/null >/dev/null 2>&1"
            let done = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                _ = system(line)
                done.signal()
            }
            done.wait()
        }

        /// Runs the script; its standard output. Through `system(3)` with both outputs in
        /// files: the server the script starts inherits them (a pipe would stay open as long as
        /// it runs), and `system` waits for its own child (Foundation's `Process` did not see
        /// this script end, from a test's thread).
        @discardableResult
        static func run(_ command: String, _ folder: String) async throws -> String {
            let outputs = FileManager.default.temporaryDirectory.appendingPathComponent("imsgw-pg-run-\(UUID().uuidString)").path
            defer {
                try? FileManager.default.removeItem(atPath: outputs + ".out")
                try? FileManager.default.removeItem(atPath: outputs + ".err")
            }
            let line = "bash '\(script)' \(command) '\(folder)' </dev/null >'\(outputs).out' 2>'\(outputs).err'"
            // On a thread of its own: `system` blocks for seconds, and a blocked thread of the
            // tasks' pool (2 on a 2-core machine) stalls every other test meanwhile.
            let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
                Thread.detachNewThread { continuation.resume(returning: system(line)) }
            }
            let text = (try? String(contentsOfFile: outputs + ".out", encoding: .utf8)) ?? ""
            guard status == 0 else {
                let failure = (try? String(contentsOfFile: outputs + ".err", encoding: .utf8)) ?? ""
                throw ChildProcessError("postgres-cluster.sh \(command) failed (status \(status)): \(failure)")
            }
            return text
        }
    }

    @Test("PostgreSQL stopped for 10 s mid-run and started again: new requests 503 meanwhile with Retry-After, /readyz stays 200 and says so, the running request finishes with its job id, nothing lost, and the gateway serves again without a restart")
    func databaseRestartedMidRun() async throws {
        let cluster = try await OwnCluster.start()
        defer { cluster.stop() }
        let fixture = try await CrashFixture.start(jobDurationMs: 6000)
        defer { fixture.stop() }
        let gateway = try fixture.launchGateway(storeURL: cluster.storeURL)
        let base = try await fixture.ready(gateway)

        let running = fixture.send(fixture.accept(base, key: "outage-a", waitSeconds: 60))
        let jobID = try await Self.firstPolledJob(fixture, log: gateway.log)
        try await cluster.halt()
        let haltedAt = ContinuousClock.now

        let refused = try await fixture.http.execute(fixture.accept(base, key: "outage-b", waitSeconds: 10))
        #expect(refused.status == 503, "\(String(decoding: refused.body, as: UTF8.self))")
        #expect(refused.header("Retry-After") != nil)
        #expect(String(decoding: refused.body, as: UTF8.self).contains("store-unavailable"))
        let readyz = try await fixture.http.execute(CurlHTTPRequest(method: "GET", url: base + "/readyz"))
        #expect(readyz.status == 200)
        #expect(String(decoding: readyz.body, as: UTF8.self).contains(#""reachable":false"#), "\(String(decoding: readyz.body, as: UTF8.self))")

        let downFor = haltedAt.duration(to: .now)
        if downFor < .seconds(10) { try await Task.sleep(for: .seconds(10) - downFor) }
        try await cluster.resume()

        // The job ended (6 s) while the database was down; the final write went through once it
        // was back.
        guard case .success(let answer) = await running.value else {
            Issue.record("the running request's caller got no answer:\n\(gateway.log)")
            return
        }
        #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))\n\(gateway.log)")
        #expect(AnswerDocument(answer).jobIDs == [jobID])
        let requestID = try #require(AnswerDocument(answer).requestID)

        // Serving again, without a restart: a new request is admitted once the pool reconnects.
        let served = try await GracefulShutdownTests.poll(within: .seconds(30), every: .milliseconds(500)) {
            try await fixture.http.execute(fixture.accept(base, key: "outage-c", waitSeconds: 30)).status == 200
        }
        #expect(served, "no new request succeeded after the database came back:\n\(gateway.log)")
        let stored = try await fixture.http.execute(fixture.stored(base, requestID: requestID))
        #expect(stored.status == 200)
        #expect(AnswerDocument(stored).outcome == "succeeded")
        #expect(AnswerDocument(stored).jobIDs == [jobID])
        #expect(try await fixture.calls(Self.submit) == 2)
        #expect(gateway.log.contains("store reachable again"))
    }

    @Test("PostgreSQL down when serve starts: retried with a log line, /healthz 200 and /readyz 503 naming the store meanwhile (a liveness probe does not restart it), member-status calls 503; then ready on the same port once the database answers")
    func databaseDownAtStart() async throws {
        let cluster = try await OwnCluster.start()
        defer { cluster.stop() }
        try await cluster.halt()
        let fixture = try await CrashFixture.start(jobDurationMs: 300)
        defer { fixture.stop() }
        let gateway = try fixture.launchGateway(storeURL: cluster.storeURL)
        let startingPort = try await gateway.port(logLine: "answering probes while it waits for its store")
        let base = "http://127.0.0.1:\(startingPort)"
        #expect(gateway.log.contains("store unreachable at start"))
        #expect(!gateway.log.contains("ims-gateway listening"))
        let live = try await fixture.http.execute(CurlHTTPRequest(method: "GET", url: base + "/healthz"))
        #expect(live.status == 200)
        let notReady = try await fixture.http.execute(CurlHTTPRequest(method: "GET", url: base + "/readyz"))
        #expect(notReady.status == 503)
        #expect(notReady.header("Retry-After") == "5")
        let reason = String(decoding: notReady.body, as: UTF8.self)
        #expect(reason.contains("not-ready") && reason.contains("unreachable at start"), "\(reason)")
        #expect(!reason.contains("password"))
        let refused = try await fixture.http.execute(fixture.accept(base, key: "too-early", waitSeconds: 5))
        #expect(refused.status == 503)
        #expect(String(decoding: refused.body, as: UTF8.self).contains("store-unavailable"))
        #expect(gateway.isRunning, "serve exited instead of retrying:\n\(gateway.log)")
        try await cluster.resume()
        let readyBase = try await fixture.ready(gateway)
        #expect(readyBase == base, "the gateway moved from the starting server's port")
        let answer = try await fixture.http.execute(fixture.accept(readyBase, key: "late-start", waitSeconds: 30))
        #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
        // The call refused while starting never reached IMS: one submit in all.
        #expect(try await fixture.calls(Self.submit) == 1)
    }
}

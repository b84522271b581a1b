import CurlHTTP
import Foundation
import GatewayStore
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `kill -9` of the built `ims-gateway serve` at the moments the write-ahead store must cover
/// (docs/ARCHITECTURE.md, "State and recovery"), in front of the built simulator, and a restart
/// on the same store file: a repeat with the same `Idempotency-Key` gets the request the killed
/// process stored, no job id is lost and no batch with a job id is submitted again. Also how
/// `serve` refuses a store file it cannot use.
///
/// Real-time bounds are loose: these run on loaded 2-core machines.
@Suite("crash recovery", .serialized)
struct CrashRecoveryTests {
    static let submit = "BatchUpdateMembers"

    @Test("kill -9 while its job runs: after the restart the repeat gets 200 with the request id and job id stored before the kill, and IMS saw one submit")
    func killWhileJobRuns() async throws {
        let fixture = try await CrashFixture.start(jobDurationMs: 4000)
        defer { fixture.stop() }
        let first = try await fixture.startGateway()
        let killedCall = fixture.send(fixture.accept(first.base, key: "k-a"))

        // The job id is stored before the job's first poll is sent, so once the simulator has
        // seen a poll of the job, the kill comes after the job id was committed.
        var job: SimulatorJob?
        let polled = try await GracefulShutdownTests.poll(within: .seconds(15), every: .milliseconds(20)) {
            job = try await fixture.jobs().first
            return (job?.polls ?? 0) >= 1
        }
        try #require(polled, "the job was not submitted and polled:\n\(first.process.log)")
        let jobID = try #require(job?.id)
        #expect(try await fixture.calls(Self.submit) == 1)
        try await fixture.kill9(first.process)
        #expect(first.process.terminationReason == .uncaughtSignal)
        #expect(first.process.terminationStatus == SIGKILL)
        #expect(try await fixture.jobs().first?.status != "SUCCESS", "the 4 s job ended before the kill: the test proves nothing")
        if case .success(let response) = await killedCall.value {
            Issue.record("the killed gateway answered \(response.status)")
        }

        // What the killed process left: the request running, its job id.
        let stored = try #require(try await fixture.storedRequest(key: "k-a"), "nothing stored under k-a")
        #expect(stored.request.state == .running)
        #expect(stored.batches.map(\.jobID) == [jobID])
        #expect(stored.batches.map(\.images) == [CrashFixture.imageIDs])
        #expect(stored.attempts.map(\.attempt) == [1])

        let second = try await fixture.startGateway()
        // Resumed from the store: while the job still runs, GET shows it running with its job id.
        let whileRunning = try await fixture.http.execute(fixture.stored(second.base, requestID: stored.request.id))
        #expect([200, 202].contains(whileRunning.status))
        #expect(AnswerDocument(whileRunning).jobIDs == [jobID])
        if try await fixture.jobs().first?.status != "SUCCESS" {
            #expect(whileRunning.status == 202, "the job still runs, yet GET answered \(whileRunning.status)")
            #expect(AnswerDocument(whileRunning).outcome == "running")
        }
        let repeated = try await fixture.http.execute(fixture.accept(second.base, key: "k-a"))
        let answer = AnswerDocument(repeated)
        #expect(repeated.status == 200, "\(String(decoding: repeated.body, as: UTF8.self))\n\(second.process.log)")
        #expect(answer.requestID == stored.request.id)
        #expect(answer.outcome == "succeeded")
        #expect(answer.jobIDs == [jobID])
        #expect(answer.submitAttempts == [1])
        #expect(answer.batchStates == ["succeeded"])
        #expect(second.process.log.contains("requests of an earlier process recovered"))
        // The resumed request writes its audit line once, with the job id and the end state,
        // though the caller that started it is gone (the repeat that joined writes none).
        let audit = try await Self.auditLines(second.process, requestID: stored.request.id)
        #expect(audit.count == 1, "audit lines:\n\(audit.joined(separator: "\n"))")
        #expect(audit.first?.contains("\"job_id\":\"\(jobID)\"") == true, "\(audit)")
        #expect(audit.first?.contains("\"state\":\"succeeded\"") == true, "\(audit)")

        // Never submitted again: the simulator saw one PUT and has one job.
        #expect(try await fixture.calls(Self.submit) == 1)
        #expect(try await fixture.jobs().map(\.id) == [jobID])

        let read = try await fixture.http.execute(fixture.stored(second.base, requestID: stored.request.id))
        #expect(read.status == 200)
        #expect(AnswerDocument(read).requestID == stored.request.id)
        #expect(AnswerDocument(read).outcome == "succeeded")
        #expect(AnswerDocument(read).jobIDs == [jobID])
    }

    @Test("kill -9 while the PUT is in flight: after the restart the batch is submitted once more, only after upstream.timeoutMs, with submit_attempts 2 and a warning")
    func killWhileSubmitInFlight() async throws {
        let fixture = try await CrashFixture.start(jobDurationMs: 500)
        defer { fixture.stop() }
        let delayMs = 3000
        let timeoutMs = 4000
        try await fixture.setFaults(
            #"{"calls": [{"fault": "delay", "operation": "BatchUpdateMembers", "delay_ms": \#(delayMs)}]}"#)
        let first = try await fixture.startGateway()
        let killedCall = fixture.send(fixture.accept(first.base, key: "k-b"))

        // The simulator counts a call as it arrives, then sleeps out the delay: kill in between.
        let arrived = try await GracefulShutdownTests.poll(within: .seconds(15), every: .milliseconds(10)) {
            try await fixture.calls(Self.submit) >= 1
        }
        try #require(arrived, "the PUT never reached the simulator:\n\(first.process.log)")
        let firstPutSeenAt = Date()
        try await fixture.kill9(first.process)
        #expect(try await fixture.jobs().isEmpty, "the delayed PUT was answered before the kill: the test proves nothing")
        if case .success(let response) = await killedCall.value {
            Issue.record("the killed gateway answered \(response.status)")
        }
        try await fixture.clearFaults()

        // Write-ahead: the attempt was stored before its PUT, with no job id.
        let stored = try #require(try await fixture.storedRequest(key: "k-b"), "nothing stored under k-b")
        #expect(stored.request.state == .running)
        #expect(stored.batches.map(\.jobID) == [nil])
        #expect(stored.batches.map(\.state) == ["submitting"])
        #expect(stored.attempts.map(\.attempt) == [1])
        #expect(stored.attempts.map(\.jobID) == [nil])
        let attemptStartedAt = try #require(stored.attempts.first?.startedAt)
        #expect(attemptStartedAt <= firstPutSeenAt)

        let second = try await fixture.startGateway(environment: ["IMSGW_UPSTREAM_TIMEOUT_MS": "\(timeoutMs)"])
        let repeated = try await fixture.http.execute(fixture.accept(second.base, key: "k-b"))
        let answer = AnswerDocument(repeated)
        #expect(repeated.status == 200, "\(String(decoding: repeated.body, as: UTF8.self))\n\(second.process.log)")
        #expect(answer.requestID == stored.request.id)
        #expect(answer.outcome == "succeeded")
        #expect(answer.submitAttempts == [2])
        #expect(answer.batchStates == ["succeeded"])
        // Joined while running, or replayed from the store after a slow restart: the warning
        // is there either way (it is stored with the final state).
        let warned = answer.warnings.contains { $0.contains("batch 0") && $0.contains("submitted again") }
        #expect(warned, "warnings: \(answer.warnings)")
        let jobID = try #require(answer.jobIDs.first)

        // The delayed PUT of the killed process ends in the simulator `delayMs` after it came:
        // wait past that, so that any late call or job is counted.
        let settled = firstPutSeenAt.addingTimeInterval(Double(delayMs) / 1000 + 1).timeIntervalSinceNow
        if settled > 0 { try await Task.sleep(for: .seconds(settled)) }
        #expect(try await fixture.calls(Self.submit) == 2)
        let jobs = try await fixture.jobs()
        let resubmitted = try #require(jobs.first { $0.id == jobID }, "the answer's job \(jobID) is not the simulator's")
        // Not before the first attempt was older than upstream.timeoutMs (10 ms for rounding
        // to whole milliseconds).
        let earliest = Int64((attemptStartedAt.timeIntervalSince1970 * 1000).rounded()) + Int64(timeoutMs) - 10
        #expect(resubmitted.createdAt >= earliest, "resubmitted \(resubmitted.createdAt - earliest + 10) ms after attempt 1")
        // The simulator finishes the abandoned PUT after its delay (it does not notice the
        // client is gone): that call's job is the extra IMS job the warning speaks of.
        #expect(jobs.count == 2, "jobs: \(jobs.map(\.id))")

        // Once final, the stored outcome says the same.
        let read = try await fixture.http.execute(fixture.stored(second.base, requestID: stored.request.id))
        let readAnswer = AnswerDocument(read)
        #expect(read.status == 200)
        #expect(readAnswer.jobIDs == [jobID])
        #expect(readAnswer.submitAttempts == [2])
        #expect(
            readAnswer.warnings.contains { $0.contains("batch 0") && $0.contains("submitted again") },
            "warnings of GET: \(readAnswer.warnings)")
    }

    @Test("kill -9 right after the final state is stored: the caller gets no answer, and after the restart the repeat is replayed from the store with no IMS call")
    func killAfterFinalStored() async throws {
        let fixture = try await CrashFixture.start(jobDurationMs: 500)
        defer { fixture.stop() }
        guard let first = try await Self.launchWithCrashPoint("after-final-stored", fixture: fixture) else { return }
        let base = try await fixture.ready(first)

        let killed = await fixture.send(fixture.accept(base, key: "k-c")).value
        if case .success(let response) = killed {
            Issue.record("answered \(response.status) although the crash point was armed")
        }
        #expect(try await first.waitForExit(within: .seconds(10)))
        #expect(first.terminationReason == .uncaughtSignal)
        #expect(first.terminationStatus == SIGKILL)
        // The last line may reach the pipe reader a moment after the exit.
        #expect(try await GracefulShutdownTests.poll(within: .seconds(5)) { first.log.contains("debug crash point after-final-stored reached") })
        let jobs = try await fixture.jobs()
        #expect(jobs.count == 1)
        let job = try #require(jobs.first)
        #expect(try await fixture.calls(Self.submit) == 1)

        let stored = try #require(try await fixture.storedRequest(key: "k-c"), "nothing stored under k-c")
        #expect(stored.request.state == .final)
        #expect(stored.batches.map(\.jobID) == [job.id])
        #expect(stored.batches.map(\.state) == ["succeeded"])

        let second = try await fixture.startGateway()
        let repeated = try await fixture.http.execute(fixture.accept(second.base, key: "k-c"))
        let answer = AnswerDocument(repeated)
        #expect(repeated.status == 200, "\(String(decoding: repeated.body, as: UTF8.self))\n\(second.process.log)")
        #expect(repeated.header("Idempotent-Replayed") == "true")
        #expect(answer.requestID == stored.request.id)
        #expect(answer.outcome == "succeeded")
        #expect(answer.jobIDs == [job.id])
        // Answered from the store: no submit, and no poll of the job since the kill.
        #expect(try await fixture.calls(Self.submit) == 1)
        #expect(try await fixture.jobs().map(\.polls) == [job.polls])
    }

    @Test("kill -9 right after the job id is stored: after the restart the repeat gets 200 with that job id, and IMS saw one submit")
    func killAfterJobIDStored() async throws {
        let fixture = try await CrashFixture.start(jobDurationMs: 1500)
        defer { fixture.stop() }
        guard let first = try await Self.launchWithCrashPoint("after-job-id-stored", fixture: fixture) else { return }
        let base = try await fixture.ready(first)

        let killed = await fixture.send(fixture.accept(base, key: "k-e")).value
        if case .success(let response) = killed {
            Issue.record("answered \(response.status) although the crash point was armed")
        }
        #expect(try await first.waitForExit(within: .seconds(10)))
        #expect(first.terminationReason == .uncaughtSignal)
        #expect(first.terminationStatus == SIGKILL)
        // The last line may reach the pipe reader a moment after the exit.
        #expect(try await GracefulShutdownTests.poll(within: .seconds(5)) { first.log.contains("debug crash point after-job-id-stored reached") })
        let job = try #require(try await fixture.jobs().first)
        #expect(job.polls == 0)

        let stored = try #require(try await fixture.storedRequest(key: "k-e"), "nothing stored under k-e")
        #expect(stored.request.state == .running)
        #expect(stored.batches.map(\.jobID) == [job.id])
        #expect(stored.attempts.map(\.jobID) == [job.id])

        let second = try await fixture.startGateway()
        let repeated = try await fixture.http.execute(fixture.accept(second.base, key: "k-e"))
        let answer = AnswerDocument(repeated)
        #expect(repeated.status == 200, "\(String(decoding: repeated.body, as: UTF8.self))\n\(second.process.log)")
        #expect(answer.requestID == stored.request.id)
        #expect(answer.jobIDs == [job.id])
        #expect(answer.submitAttempts == [1])
        #expect(answer.warnings.isEmpty, "\(answer.warnings)")
        #expect(try await fixture.calls(Self.submit) == 1)
        #expect(try await fixture.jobs().map(\.id) == [job.id])
    }

    @Test("a store file that is not a database: serve exits non-zero within seconds with one line naming the file, and leaves the file as it was")
    func corruptStore() async throws {
        let fixture = try await CrashFixture.start(jobDurationMs: 500)
        defer { fixture.stop() }
        let garbage = Array(String(repeating: "this is not an SQLite database\n", count: 256).utf8)
        try Data(garbage).write(to: URL(fileURLWithPath: fixture.storePath))
        let gateway = try fixture.launchGateway()
        try await Self.expectRefusedStart(gateway, fixture: fixture, naming: fixture.storePath)
        #expect(FileManager.default.contents(atPath: fixture.storePath) == Data(garbage))
    }

    @Test("a store path whose folder is a regular file: serve exits non-zero within seconds with one line naming the file")
    func unwritableStore() async throws {
        let fixture = try await CrashFixture.start(jobDurationMs: 500)
        defer { fixture.stop() }
        let notAFolder = fixture.folder.path("not-a-folder")
        try Data("a file".utf8).write(to: URL(fileURLWithPath: notAFolder))
        let path = notAFolder + "/store.sqlite"
        let gateway = try fixture.launchGateway(storeURL: "sqlite:" + path)
        try await Self.expectRefusedStart(gateway, fixture: fixture, naming: path)
    }

    @Test("a second serve on the store file of a running one exits non-zero with one line naming the file as in use; the first goes on")
    func storeInUse() async throws {
        let fixture = try await CrashFixture.start(jobDurationMs: 500)
        defer { fixture.stop() }
        let running = try await fixture.startGateway()
        let second = try fixture.launchGateway()
        let line = try await Self.expectRefusedStart(second, fixture: fixture, naming: fixture.storePath)
        #expect(line?.contains("in use") == true, "\(line ?? "-")")
        #expect(running.process.isRunning)
        #expect(try await fixture.http.execute(CurlHTTPRequest(method: "GET", url: running.base + "/readyz")).status == 200)
    }

    /// Starts `serve` with `IMSGW_DEBUG_CRASH_AT=point` and waits until it listens; nil (with an
    /// issue recorded) when `serve` refuses the variable at start.
    /// The `audit` lines `gateway` wrote for `requestID`, once it wrote one (at most 5 s: the
    /// driver writes them as the request ends, just after the answer).
    static func auditLines(_ gateway: ChildProcess, requestID: String) async throws -> [String] {
        let lines = {
            gateway.log.split(separator: "\n").map(String.init).filter {
                $0.contains("\"audit\":\"true\"") && $0.contains("\"request_id\":\"\(requestID)\"")
            }
        }
        _ = try await GracefulShutdownTests.poll(within: .seconds(5)) { !lines().isEmpty }
        return lines()
    }

    static func launchWithCrashPoint(_ point: String, fixture: CrashFixture) async throws -> ChildProcess? {
        let gateway = try fixture.launchGateway(environment: ["IMSGW_DEBUG_CRASH_AT": point])
        let started = try await GracefulShutdownTests.poll(within: .seconds(20), every: .milliseconds(50)) {
            gateway.log.contains("ims-gateway listening") || !gateway.isRunning
        }
        try #require(started, "serve neither listened nor exited:\n\(gateway.log)")
        if !gateway.isRunning {
            Issue.record("serve exited \(gateway.terminationStatus) at start:\n\(gateway.log)")
            return nil
        }
        return gateway
    }

    /// Checks that `gateway` exits non-zero within 15 s and writes exactly one `ims-gateway: `
    /// line to standard error, naming `path`.
    /// - Returns: that line.
    @discardableResult
    static func expectRefusedStart(_ gateway: ChildProcess, fixture: CrashFixture, naming path: String) async throws -> String? {
        let started = ContinuousClock.now
        let exited = try await gateway.waitForExit(within: .seconds(15))
        try #require(exited, "serve did not exit:\n\(gateway.log)")
        #expect(started.duration(to: .now) < .seconds(15))
        #expect(gateway.terminationReason == .exit)
        #expect(gateway.terminationStatus != 0)
        let lines = try await fixture.startFailureLines(gateway)
        #expect(lines.count == 1, "standard error:\n\(gateway.log)")
        #expect(lines.first?.contains(path) == true, "\(lines)")
        #expect(!gateway.log.contains("ims-gateway listening"))
        return lines.first
    }
}

import Foundation
import GatewayStore
import IMSClient
import Testing

@testable import IMSGateway

/// The whole request flow (registry, driver, lifecycle, scheduler, a real SQLite store) against
/// a fake `IMSJobs` on a test clock: the exact timeline of submits, polls and answers, with no
/// server and no sleeping on the request path.
@Suite("request flow on a fake IMS and a test clock", .serialized)
struct LifecycleFlowTests {
    /// Polls 1 s after submit, then every 1 s; the last one 100 ms before a deadline.
    static let schedule = PollSchedule(
        initialDelay: .seconds(1), growthFactor: 1, maxDelay: .seconds(1), jitter: 0, finalPollMargin: .milliseconds(100))

    static func job(_ word: String) -> Result<Job, IMSClientError> {
        .success(Job(status: JobStatus(word), rawStatus: word, jobID: "job-1"))
    }

    @Test("one batch: submit, RUNNING at 1 s, SUCCESS at 2 s; answered 200 at 2 s with 4 write transactions (the new status word RUNNING is a progress event)")
    func oneBatchSucceeds() async throws {
        let flow = try LifecycleFlow(
            jobs: { clock in FakeIMSJobs(showJobAnswers: [Self.job("RUNNING"), Self.job("SUCCESS")], now: { clock.now }) },
            schedule: Self.schedule)
        defer { flow.stop() }
        let t0 = flow.clock.now
        let writesBefore = flow.store.writeTransactions
        let driver = try await flow.admit(batches: 1)
        let caller = Task { await driver.wait(until: t0.advanced(by: .seconds(30)), starting: true) }

        try await flow.pollsQueued(1)
        let submits = await flow.jobs.submits
        #expect(submits.count == 1)
        #expect(submits.first?.deadline == t0.advanced(by: .seconds(30)))
        #expect(submits.first?.caller == UpstreamCaller(client: "team-a"))
        #expect(await flow.jobs.showJobs.isEmpty)

        flow.clock.advance(by: .seconds(1))
        try await flow.eventually("first poll") { await flow.jobs.showJobs.count == 1 }
        try await flow.pollsQueued(1)
        flow.clock.advance(by: .seconds(1))
        let answer = await caller.value

        #expect(answer.result.outcome == .succeeded)
        #expect(answer.result.httpStatus == 200)
        #expect(answer.isFinal)
        #expect(answer.result.batches.map(\.jobID) == ["job-1"])
        #expect(answer.result.batches.map(\.polls) == [2])
        #expect(answer.result.batches.map(\.submitAttempts) == [1])
        let polls = await flow.jobs.showJobs
        #expect(polls.map(\.at) == [t0.advanced(by: .seconds(1)), t0.advanced(by: .seconds(2))])
        #expect(polls.allSatisfy { $0.priority == .poll && $0.deadline == t0.advanced(by: .seconds(30)) })
        // Admit, job id, RUNNING, final: the final state is stored before the answer.
        let stored = try #require(try await flow.store.request(id: driver.request.requestID))
        #expect(stored.request.state == .final)
        #expect(stored.batches.map(\.state) == ["succeeded"])
        #expect(stored.batches.map(\.jobID) == ["job-1"])
        try await flow.eventually("job id written") { flow.store.writeTransactions - writesBefore == 4 }
        let events = try await flow.store.events(requestID: driver.request.requestID, afterID: 0, limit: 10)
        #expect(events.map(\.kind) == ["admitted", "batch", "batch", "batch", "result"])
        #expect(events.map(\.id) == [1, 2, 3, 4, 5])
        #expect(events[2].data.contains(#""job_status":"RUNNING""#))
        #expect(events[3].data.contains(#""state":"succeeded""#))
    }

    @Test("the caller's deadline at 2.5 s: 504 with the job pending; the background wait polls at background priority and stores SUCCESS")
    func deadlineThenBackground() async throws {
        let flow = try LifecycleFlow(
            jobs: { clock in
                FakeIMSJobs(
                    showJobAnswers: [Self.job("RUNNING"), Self.job("RUNNING"), Self.job("RUNNING"), Self.job("SUCCESS")],
                    now: { clock.now })
            },
            schedule: Self.schedule)
        defer { flow.stop() }
        let t0 = flow.clock.now
        let driver = try await flow.admit(batches: 1)
        let caller = Task { await driver.wait(until: t0.advanced(by: .milliseconds(2500)), starting: true) }

        try await flow.pollsQueued(1)
        flow.clock.advance(by: .seconds(1))  // 1 s: RUNNING
        try await flow.eventually("poll 1") { await flow.jobs.showJobs.count == 1 }
        try await flow.pollsQueued(1)
        flow.clock.advance(by: .seconds(1))  // 2 s: RUNNING; the next one is trimmed to 2.4 s
        try await flow.eventually("poll 2") { await flow.jobs.showJobs.count == 2 }
        try await flow.pollsQueued(1)
        flow.clock.advance(by: .milliseconds(400))  // 2.4 s: RUNNING, just before the deadline
        try await flow.eventually("poll 3") { await flow.jobs.showJobs.count == 3 }
        try await flow.pollsQueued(1)
        flow.clock.advance(by: .milliseconds(100))  // 2.5 s: the caller's deadline
        let answer = await caller.value

        #expect(answer.result.outcome == .timedOut)
        #expect(answer.result.httpStatus == 504)
        #expect(answer.continuesInBackground)
        #expect(!answer.isFinal)
        #expect(answer.result.batches.map(\.state) == [.pending])
        #expect(answer.result.batches.map(\.jobStatus) == ["RUNNING"])
        #expect(answer.result.batches.map(\.polls) == [3])

        flow.clock.advance(by: .milliseconds(900))  // 3.4 s: SUCCESS, in the background
        try await flow.eventually("stored final") {
            (try? await flow.store.request(id: driver.request.requestID))??.request.state == .final
        }
        let polls = await flow.jobs.showJobs
        #expect(polls.map(\.at) == [1000, 2000, 2400, 3400].map { t0.advanced(by: .milliseconds($0)) })
        #expect(polls.map(\.priority) == [.poll, .poll, .poll, .backgroundPoll])
        #expect(polls.last?.deadline == t0.advanced(by: .seconds(3600)))
    }

    @Test("a repeat joining a running request gets the same final outcome; the job is polled by one request only")
    func repeatJoins() async throws {
        let flow = try LifecycleFlow(
            jobs: { clock in FakeIMSJobs(showJobAnswers: [Self.job("RUNNING"), Self.job("SUCCESS")], now: { clock.now }) },
            schedule: Self.schedule)
        defer { flow.stop() }
        let t0 = flow.clock.now
        let driver = try await flow.admit(batches: 1, key: "k1")
        let first = Task { await driver.wait(until: t0.advanced(by: .seconds(30)), starting: true) }
        try await flow.pollsQueued(1)
        let second = Task { await driver.wait(until: t0.advanced(by: .seconds(60))) }
        try await flow.eventually("second caller joined") { driver.lifecycle.callers.count == 2 }
        flow.clock.advance(by: .seconds(1))
        try await flow.eventually("poll 1") { await flow.jobs.showJobs.count == 1 }
        try await flow.pollsQueued(1)
        flow.clock.advance(by: .seconds(1))
        let (a, b) = await (first.value, second.value)
        #expect(a.result == b.result)
        #expect(a.result.outcome == .succeeded)
        #expect(await flow.jobs.submits.count == 1)
        #expect(await flow.jobs.showJobs.count == 2)
    }

    @Test("a repeat that joins a background wait and times out too: the background-waits gauge stays 1, then 0 when the job ends")
    func repeatTimesOutInBackground() async throws {
        let flow = try LifecycleFlow(
            jobs: { clock in
                FakeIMSJobs(showJobAnswers: [Self.job("RUNNING"), Self.job("RUNNING"), Self.job("SUCCESS")], now: { clock.now })
            },
            schedule: Self.schedule)
        defer { flow.stop() }
        let t0 = flow.clock.now
        let driver = try await flow.admit(batches: 1, key: "k1")
        let first = Task { await driver.wait(until: t0.advanced(by: .milliseconds(500)), starting: true) }
        try await flow.pollsQueued(1)
        flow.clock.advance(by: .milliseconds(500))  // 0.5 s: the first caller's deadline
        #expect(await first.value.continuesInBackground)
        try await flow.eventually("background wait counted") { flow.backgroundWaits == 1 }

        let second = Task { await driver.wait(until: t0.advanced(by: .milliseconds(1500))) }
        try await flow.eventually("second caller joined") { driver.lifecycle.callers.count == 1 }
        try await flow.pollsQueued(1)
        flow.clock.advance(by: .seconds(1))  // 1.5 s: the second caller's deadline (a poll on the way)
        let answer = await second.value
        #expect(answer.continuesInBackground)
        #expect(answer.result.httpStatus == 504)
        try await flow.pollsQueued(1)
        // Counted once: the same wait went on, not a second one.
        #expect(flow.backgroundWaits == 1)
        flow.clock.advance(by: .seconds(2))  // SUCCESS
        try await flow.eventually("stored final") {
            (try? await flow.store.request(id: driver.request.requestID))??.request.state == .final
        }
        try await flow.eventually("background wait ended") { flow.backgroundWaits == 0 }
    }

    @Test("a recovered batch with a job id is polled at once, then on the configured schedule, not the default one")
    func recoveredBatchUsesConfiguredSchedule() async throws {
        let flow = try LifecycleFlow(
            jobs: { clock in
                FakeIMSJobs(showJobAnswers: [Self.job("RUNNING"), Self.job("RUNNING"), Self.job("RUNNING")], now: { clock.now })
            },
            schedule: Self.schedule)
        defer { flow.stop() }
        let t0 = flow.clock.now
        let plan = MemberStatusPlan(
            projectID: LifecycleFlow.projectID, memberStatus: .accepted, vaultID: nil,
            images: ["00000000-0000-4000-8000-000000000000"], batches: [["00000000-0000-4000-8000-000000000000"]],
            warnings: [])
        var batch = LifecycleBatch(index: 0, images: plan.images)
        batch.phase = .pending(jobID: "job-1")
        batch.jobID = "job-1"
        batch.submitAttempts = 1
        batch.storedAttempts = 1
        let request = StoredRequest(
            requestID: "recovered-1", clientName: "team-a", plan: plan, idempotencyKey: nil, started: t0,
            backgroundUntil: t0.advanced(by: .seconds(3600)))
        let driver = LifecycleDriver(request: request, batches: [batch], registry: flow.registry, context: flow.context)
        #expect(driver.lifecycle.batches[0].schedule == Self.schedule)
        driver.start(recovered: true)
        try await flow.eventually("poll at once") { await flow.jobs.showJobs.count == 1 }
        try await flow.pollsQueued(1)
        flow.clock.advance(by: .seconds(1))
        try await flow.eventually("poll 2") { await flow.jobs.showJobs.count == 2 }
        try await flow.pollsQueued(1)
        flow.clock.advance(by: .seconds(1))
        try await flow.eventually("poll 3") { await flow.jobs.showJobs.count == 3 }
        // The default schedule (1.5 growth, 10 % jitter) would not land on whole seconds.
        #expect(await flow.jobs.showJobs.map(\.at) == [0, 1, 2].map { t0.advanced(by: .seconds($0)) })
        #expect(await flow.jobs.showJobs.allSatisfy { $0.priority == .backgroundPoll })
    }

    @Test("fan-out 2 over 4 batches: batches 3 and 4 are stored and submitted only when 1 and 2 are final; 200 at 2 s")
    func fanOut() async throws {
        let flow = try LifecycleFlow(
            jobs: { clock in
                FakeIMSJobs(
                    submitAnswers: (1...4).map { .success("job-\($0)") }, showJobAnswers: [Self.job("SUCCESS")],
                    now: { clock.now })
            },
            schedule: Self.schedule, fanOut: 2)
        defer { flow.stop() }
        let t0 = flow.clock.now
        let driver = try await flow.admit(batches: 4, fanOut: 2)
        let caller = Task { await driver.wait(until: t0.advanced(by: .seconds(30)), starting: true) }
        try await flow.pollsQueued(2)
        #expect(await flow.jobs.submits.count == 2)
        flow.clock.advance(by: .seconds(1))
        // Polls 1 and 2 sent (SUCCESS), then batches 3 and 4 submitted and their polls queued.
        try await flow.eventually("polls 1 and 2") { await flow.jobs.showJobs.count == 2 }
        try await flow.eventually("submits 3 and 4") { await flow.jobs.submits.count == 4 }
        try await flow.pollsQueued(2)
        // Batches 3 and 4 are stored and sent concurrently: either may reach IMS first.
        let sent = await flow.jobs.submits.map(\.body.images)
        #expect(Array(sent.prefix(2)) == Array(driver.request.plan.batches.prefix(2)))
        #expect(Set(sent.suffix(2)) == Set(driver.request.plan.batches.suffix(2)))
        flow.clock.advance(by: .seconds(1))
        let answer = await caller.value
        #expect(answer.result.httpStatus == 200)
        let jobIDs = answer.result.batches.map(\.jobID)
        #expect(Array(jobIDs.prefix(2)) == ["job-1", "job-2"])
        #expect(Set(jobIDs.suffix(2)) == ["job-3", "job-4"])
        let polls = await flow.jobs.showJobs
        // Polls due at the same instant are sent concurrently: either may reach IMS first.
        #expect(Set(polls.map(\.jobID).prefix(2)) == ["job-1", "job-2"])
        #expect(Set(polls.map(\.jobID).suffix(2)) == ["job-3", "job-4"])
        #expect(polls.map(\.at) == [1, 1, 2, 2].map { t0.advanced(by: .seconds($0)) })
        let stored = try #require(try await flow.store.request(id: driver.request.requestID))
        #expect(stored.request.state == .final)
        #expect(stored.batches.map(\.jobID) == jobIDs)
    }

    @Test("a drain at 1.5 s with 2 s to go: the caller gets 504 at 3.5 s cut by the drain; the request stays running in the store")
    func drainCutsTheWait() async throws {
        let flow = try LifecycleFlow(
            jobs: { clock in FakeIMSJobs(showJobAnswers: [Self.job("RUNNING")], now: { clock.now }) },
            schedule: Self.schedule)
        defer { flow.stop() }
        let t0 = flow.clock.now
        let driver = try await flow.admit(batches: 1)
        let caller = Task { await driver.wait(until: t0.advanced(by: .seconds(30)), starting: true) }
        try await flow.pollsQueued(1)
        flow.clock.advance(by: .milliseconds(1500))
        try await flow.eventually("poll 1") { await flow.jobs.showJobs.count == 1 }
        try await flow.pollsQueued(1)
        flow.drain.startDraining(timeout: .seconds(2), now: flow.clock.now)
        try await flow.eventually("drain seen") { driver.lifecycle.drainDeadline == t0.advanced(by: .milliseconds(3500)) }
        flow.clock.advance(by: .seconds(1))  // 2.5 s: RUNNING; the next poll is trimmed to the drain deadline
        try await flow.eventually("poll 2") { await flow.jobs.showJobs.count == 2 }
        try await flow.pollsQueued(1)
        flow.clock.advance(by: .milliseconds(900))  // 3.4 s
        try await flow.eventually("poll 3") { await flow.jobs.showJobs.count == 3 }
        flow.clock.advance(by: .milliseconds(100))  // 3.5 s: the drain deadline
        let answer = await caller.value
        #expect(answer.cutByDrain)
        #expect(!answer.continuesInBackground)
        #expect(answer.result.outcome == .timedOut)
        #expect(answer.result.batches.map(\.state) == [.pending])
        let polls = await flow.jobs.showJobs
        // 1.5 s, 2.5 s, then 3.4 s: the last one just before the drain deadline.
        #expect(polls.map(\.at) == [1500, 2500, 3400].map { t0.advanced(by: .milliseconds($0)) })
        try await flow.eventually("stored as running") {
            let stored = (try? await flow.store.request(id: driver.request.requestID)) ?? nil
            return stored?.request.state == .running && stored?.batches.first?.jobID == "job-1"
        }
        #expect(driver.lifecycle.stage == .stopped)
    }

    @Test("a 5xx on the first submit: attempt 2 is stored and sent after its backoff; then the job succeeds")
    func submitRetried() async throws {
        let serverError = IMSClientError.upstream(UpstreamError(httpStatus: 500, code: "IMS.0001", message: "internal error"))
        let flow = try LifecycleFlow(
            jobs: { clock in
                FakeIMSJobs(
                    submitAnswers: [.failure(serverError), .success("job-1")], showJobAnswers: [Self.job("SUCCESS")],
                    now: { clock.now })
            },
            schedule: Self.schedule)
        defer { flow.stop() }
        let t0 = flow.clock.now
        let driver = try await flow.admit(batches: 1)
        let caller = Task { await driver.wait(until: t0.advanced(by: .seconds(30)), starting: true) }
        try await flow.eventually("first submit failed") {
            await flow.jobs.submits.count == 1 && driver.lifecycle.batches[0].phase == .queued
        }
        // 1 s of backoff with ±50 % jitter.
        let notBefore = try #require(driver.lifecycle.batches[0].submitNotBefore)
        #expect(notBefore >= t0.advanced(by: .milliseconds(500)) && notBefore <= t0.advanced(by: .milliseconds(1500)))
        flow.clock.advance(by: t0.duration(to: notBefore))
        try await flow.pollsQueued(1)
        #expect(await flow.jobs.submits.count == 2)
        let attempts = try #require(try await flow.store.request(id: driver.request.requestID)).attempts
        #expect(attempts.map(\.attempt) == [1, 2])
        flow.clock.advance(by: .seconds(1))  // the poll 1 s after the job id
        let answer = await caller.value
        #expect(answer.result.outcome == .succeeded)
        #expect(answer.result.batches.map(\.submitAttempts) == [2])
    }
}

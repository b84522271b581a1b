import IMSGateway
import Synchronization
import Testing

/// ``DrainController`` without I/O: admission, the drain deadline, and waits woken by the drain.
@Suite("drain controller")
struct DrainControllerTests {
    @Test("admits until draining starts; counts running requests; the deadline is set once")
    func admission() {
        let drain = DrainController()
        #expect(!drain.isDraining)
        #expect(drain.admit() == .admitted)
        #expect(drain.admit() == .admitted)
        #expect(drain.running == 2)
        let start = ContinuousClock.now
        #expect(drain.startDraining(timeout: .seconds(25), now: start))
        #expect(!drain.startDraining(timeout: .seconds(1), now: start))
        #expect(drain.drainDeadline == start.advanced(by: .seconds(25)))
        #expect(drain.admit() == .draining)
        #expect(drain.running == 2)
        drain.finish()
        drain.finish()
        #expect(drain.running == 0)
    }

    @Test("the effective deadline is the earlier of the request's and the drain's")
    func effectiveDeadline() {
        let drain = DrainController()
        let start = ContinuousClock.now
        let early = start.advanced(by: .seconds(1))
        let late = start.advanced(by: .seconds(300))
        #expect(drain.effectiveDeadline(late) == late)
        drain.startDraining(timeout: .seconds(25), now: start)
        #expect(drain.effectiveDeadline(late) == start.advanced(by: .seconds(25)))
        #expect(drain.effectiveDeadline(early) == early)
    }

    @Test("waitUntilIdle returns at once with nothing running, else when the last request finishes")
    func idle() async {
        let drain = DrainController()
        await drain.waitUntilIdle()
        #expect(drain.admit() == .admitted)
        #expect(drain.admit() == .admitted)
        let waiter = Task { await drain.waitUntilIdle() }
        drain.finish()
        drain.finish()
        await waiter.value
        #expect(drain.running == 0)
    }

    @Test("waitUntilDraining wakes when draining starts and returns false when cancelled")
    func drainingWait() async {
        let drain = DrainController()
        let cancelled = Task { await drain.waitUntilDraining() }
        cancelled.cancel()
        #expect(await cancelled.value == false)
        let woken = Task { await drain.waitUntilDraining() }
        drain.startDraining(timeout: .seconds(5))
        #expect(await woken.value == true)
        #expect(await drain.waitUntilDraining() == true)
    }

    /// Deadlines given to each run of a body, and the runs' count.
    final class Runs: Sendable {
        let deadlines = Mutex<[ContinuousClock.Instant]>([])
    }

    @Test("a run cut short by the drain goes on with the drain deadline and its own last value")
    func interruptedRun() async {
        let drain = DrainController()
        let own = ContinuousClock.now.advanced(by: .seconds(300))
        let runs = Runs()
        let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
        let result = Task {
            await drain.withDrainDeadline(own, initial: 0) { deadline, previous in
                let count = runs.deadlines.withLock {
                    $0.append(deadline)
                    return $0.count
                }
                if count == 1 {
                    startedContinuation.yield()
                    // Works until cancelled, like a wait sleeping before its next poll.
                    try? await Task.sleep(for: .seconds(60))
                    return previous + 10
                }
                return previous + 1
            }
        }
        for await _ in started { break }
        let drainStart = ContinuousClock.now
        drain.startDraining(timeout: .seconds(2), now: drainStart)
        #expect(await result.value == 11)
        #expect(runs.deadlines.withLock { $0 } == [own, drainStart.advanced(by: .seconds(2))])
    }

    @Test("a run whose own deadline is earlier than the drain deadline is not interrupted")
    func earlierOwnDeadline() async {
        let drain = DrainController()
        let own = ContinuousClock.now.advanced(by: .seconds(1))
        let runs = Runs()
        let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
        let result = Task {
            await drain.withDrainDeadline(own, initial: 0) { deadline, previous in
                runs.deadlines.withLock { $0.append(deadline) }
                startedContinuation.yield()
                for await _ in release { break }
                return previous + (Task.isCancelled ? 100 : 1)
            }
        }
        for await _ in started { break }
        drain.startDraining(timeout: .seconds(25))
        releaseContinuation.yield()
        #expect(await result.value == 1)
        #expect(runs.deadlines.withLock { $0 } == [own])
    }

    @Test("while draining a body runs once, to the drain deadline")
    func alreadyDraining() async {
        let drain = DrainController()
        let start = ContinuousClock.now
        drain.startDraining(timeout: .seconds(3), now: start)
        let runs = Runs()
        let value = await drain.withDrainDeadline(start.advanced(by: .seconds(300)), initial: "a") { deadline, previous in
            runs.deadlines.withLock { $0.append(deadline) }
            return previous + "b"
        }
        #expect(value == "ab")
        #expect(runs.deadlines.withLock { $0 } == [start.advanced(by: .seconds(3))])
    }

    @Test("admits at most the limit at once; a finished request frees a place")
    func limit() {
        let drain = DrainController()
        #expect(drain.admit(limit: 2) == .admitted)
        #expect(drain.admit(limit: 2) == .admitted)
        #expect(drain.admit(limit: 2) == .full)
        drain.finish()
        #expect(drain.admit(limit: 2) == .admitted)
        #expect(drain.running == 2)
    }
}

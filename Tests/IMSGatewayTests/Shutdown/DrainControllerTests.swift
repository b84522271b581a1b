import IMSGateway
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

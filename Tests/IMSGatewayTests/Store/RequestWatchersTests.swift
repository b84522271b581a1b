import GatewayStore
import Synchronization
import Testing

@testable import IMSGateway

/// Followers of one request share their store reads (docs/ARCHITECTURE.md, "Repeats on another
/// replica"): one read per generation, whatever the number of followers.
@Suite("request watchers: shared reads of followed requests")
struct RequestWatchersTests {
    /// A deadline no test reaches.
    static var later: ContinuousClock.Instant { .now.advanced(by: .seconds(600)) }

    /// A store read that counts its calls and ends only when released.
    final class GatedRead: Sendable {
        let calls = Atomic<Int>(0)
        private let gate = Mutex<[CheckedContinuation<Void, Never>]>([])
        private let released = Atomic<Bool>(false)

        func body() async -> RequestWatchers.Snapshot {
            calls.add(1, ordering: .relaxed)
            await withCheckedContinuation { continuation in
                let now = gate.withLock { waiting -> Bool in
                    if released.load(ordering: .relaxed) { return true }
                    waiting.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
            return nil
        }

        func release() {
            let waiting = gate.withLock { waiting in
                released.store(true, ordering: .relaxed)
                defer { waiting = [] }
                return waiting
            }
            for continuation in waiting { continuation.resume() }
        }
    }

    @Test("five followers that saw the same generation make one read between them; after a change, the next read is a new one")
    func sharedRead() async throws {
        let watchers = RequestWatchers()
        watchers.begin("r1")
        defer { watchers.end("r1") }
        let seen = watchers.generation("r1")
        let read = GatedRead()
        let followers = (0..<5).map { _ in
            Task { await watchers.read("r1", generation: seen, until: Self.later, { await read.body() }) }
        }
        // All five wait for the one read (no sleeping: poll the count, bounded).
        for _ in 0..<100_000 where watchers.readers("r1") < 5 { await Task.yield() }
        #expect(watchers.readers("r1") == 5)
        read.release()
        for follower in followers { _ = await follower.value }
        #expect(read.calls.load(ordering: .relaxed) == 1)
        #expect(watchers.readers("r1") == 0)

        // A change: the generation moves on, and a read under it is a read of its own.
        watchers.changed("r1")
        let next = GatedRead()
        next.release()
        _ = await watchers.read("r1", generation: watchers.generation("r1"), until: Self.later, { await next.body() })
        #expect(next.calls.load(ordering: .relaxed) == 1)
    }

    @Test("a follower that saw a newer generation does not join a read started under the older one")
    func olderReadNotJoined() async throws {
        let watchers = RequestWatchers()
        watchers.begin("r1")
        defer { watchers.end("r1") }
        let old = GatedRead()
        let first = Task { await watchers.read("r1", generation: watchers.generation("r1"), until: Self.later, { await old.body() }) }
        for _ in 0..<100_000 where old.calls.load(ordering: .relaxed) == 0 { await Task.yield() }
        watchers.changed("r1")
        let fresh = GatedRead()
        fresh.release()
        _ = await watchers.read("r1", generation: watchers.generation("r1"), until: Self.later, { await fresh.body() })
        #expect(fresh.calls.load(ordering: .relaxed) == 1, "the newer follower read for itself")
        old.release()
        _ = await first.value
        #expect(old.calls.load(ordering: .relaxed) == 1)
    }

    @Test("a follower stops waiting for a read that does not answer at its deadline (nil); the read goes on for no one")
    func readGivenUpAtDeadline() async throws {
        let watchers = RequestWatchers()
        watchers.begin("r1")
        defer { watchers.end("r1") }
        let stuck = GatedRead()
        let started = ContinuousClock.now
        let snapshot = await watchers.read(
            "r1", generation: watchers.generation("r1"), until: .now.advanced(by: .milliseconds(50)), { await stuck.body() })
        #expect(snapshot == nil)
        // The read never ends before `release`: any return is the deadline's. Loose bound: a
        // loaded 2-core machine ran this timer 11 s late once.
        #expect(ContinuousClock.now - started < .seconds(60), "it did not give up the read")
        #expect(watchers.readers("r1") == 0)
        stuck.release()
    }

    @Test("a drain (interrupt) answers every follower waiting for a read or a change at once")
    func interruptWakesFollowers() async throws {
        let watchers = RequestWatchers()
        watchers.begin("r1")
        defer { watchers.end("r1") }
        let stuck = GatedRead()
        let reader = Task { await watchers.read("r1", generation: watchers.generation("r1"), until: Self.later, { await stuck.body() }) }
        let seen = watchers.generation("r1")
        let waiter = Task { await watchers.wait(for: "r1", after: seen, timeout: .seconds(600)) }
        for _ in 0..<100_000 where watchers.readers("r1") < 1 { await Task.yield() }
        // Let the waiter register (bounded; it returns at once if the interrupt comes first).
        for _ in 0..<1_000 { await Task.yield() }
        watchers.interrupt()
        #expect(await reader.value == nil)
        await waiter.value
        #expect(watchers.generation("r1") > seen)
        stuck.release()
    }
}

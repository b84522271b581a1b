import GatewayStore
import Synchronization

/// Callers following requests that other replicas run (docs/ARCHITECTURE.md, "Repeats on
/// another replica"), woken by the store's change notifications (``ChangeListenerService``)
/// instead of reading the store every second. Each watched request has a generation, moved on
/// by every notification for it and by every resync (the listener connected or lost its
/// connection: changes may have been missed), so that a change between a follower's read and
/// its wait is never missed: the follower reads the generation before it reads the store, and
/// waits only while the generation is still the one it read.
///
/// Followers of one request share their reads (``read(_:generation:_:)``): the followers a
/// notification wakes at once make one store read between them, not one each.
final class RequestWatchers: Sendable {
    /// What a follower reads: the stored request, or nil (not found, or the read failed).
    typealias Snapshot = StoredRequestSnapshot?

    private struct Entry {
        var generation: UInt64 = 0
        var followers = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// The read in flight, and the generation its reader saw before it started.
        var reading: (generation: UInt64, task: Task<Snapshot, Never>)?
        /// Followers waiting for `reading`, its starter included.
        var readers = 0
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var nextWaiter: UInt64 = 0
        var listening = false
        /// Followers waiting for a read, by waiter id: ``interrupt()`` answers them at once.
        var readWaiters: [UInt64: FirstValue] = [:]
    }

    private let state = Mutex(State())

    /// Whether the listener is connected: notifications arrive, so followers wait for them.
    var isListening: Bool { state.withLock { $0.listening } }

    /// Starts following `requestID`; pair with ``end(_:)``.
    func begin(_ requestID: String) {
        state.withLock { $0.entries[requestID, default: Entry()].followers += 1 }
    }

    /// Stops following `requestID`.
    func end(_ requestID: String) {
        state.withLock { state in
            guard var entry = state.entries[requestID] else { return }
            entry.followers -= 1
            state.entries[requestID] = entry.followers <= 0 && entry.waiters.isEmpty ? nil : entry
        }
    }

    /// The generation of `requestID` now (0 when nobody follows it).
    func generation(_ requestID: String) -> UInt64 {
        state.withLock { $0.entries[requestID]?.generation ?? 0 }
    }

    /// Reads `requestID` with `body`, or joins the read in flight that a follower started
    /// after it saw `generation` too: that read began after every change the caller has been
    /// told of, and a change after it moves the generation on (waking the caller to read
    /// again), so its result serves every follower that saw the same generation. A read
    /// started under an older generation is not joined.
    /// - Parameters:
    ///   - generation: ``generation(_:)`` as the caller read it before this call.
    ///   - deadline: when the caller stops waiting for the read (its answer is due): nil is
    ///     returned then, the read going on for the others (a store query cannot be cut).
    ///   - body: the store read; it runs in a task of its own, so a cancelled follower does
    ///     not cut the read of the others.
    func read(
        _ requestID: String, generation: UInt64, until deadline: ContinuousClock.Instant,
        _ body: @escaping @Sendable () async -> Snapshot
    ) async -> Snapshot {
        let task = state.withLock { state -> Task<Snapshot, Never> in
            if let reading = state.entries[requestID]?.reading, reading.generation == generation {
                state.entries[requestID]?.readers += 1
                return reading.task
            }
            let task = Task { await body() }
            state.entries[requestID, default: Entry()].reading = (generation, task)
            state.entries[requestID]?.readers = 1
            return task
        }
        let snapshot = await value(of: task, until: deadline)
        state.withLock { state in
            guard let reading = state.entries[requestID]?.reading, reading.task == task else { return }
            state.entries[requestID]?.readers -= 1
            guard state.entries[requestID]?.readers == 0 else { return }
            state.entries[requestID]?.reading = nil
            if let entry = state.entries[requestID], entry.followers <= 0, entry.waiters.isEmpty {
                state.entries[requestID] = nil
            }
        }
        return snapshot
    }

    /// `task`'s value, or nil once `deadline` passes first (the task is not awaited further).
    private func value(of task: Task<Snapshot, Never>, until deadline: ContinuousClock.Instant) async -> Snapshot {
        let first = FirstValue()
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            state.readWaiters[state.nextWaiter] = first
            return state.nextWaiter
        }
        defer { _ = state.withLock { $0.readWaiters.removeValue(forKey: id) } }
        let timer = Mutex<Task<Void, Never>?>(nil)
        let snapshot = await withCheckedContinuation { (continuation: CheckedContinuation<Snapshot, Never>) in
            first.set(continuation)
            timer.withLock { slot in
                slot = Task {
                    try? await Task.sleep(until: deadline)
                    first.resume(nil)
                }
            }
            Task { first.resume(await task.value) }
        }
        timer.withLock { $0?.cancel() }
        return snapshot
    }

    /// The drain started: every follower waiting for a change or a read stops waiting at once
    /// (reads answer nil), so that it can answer by the drain's deadline.
    func interrupt() {
        let (woken, readers) = state.withLock { state -> ([CheckedContinuation<Void, Never>], [FirstValue]) in
            var woken: [CheckedContinuation<Void, Never>] = []
            for id in Array(state.entries.keys) {
                state.entries[id]?.generation += 1
                woken.append(contentsOf: state.entries[id]?.waiters.values ?? [:].values)
                state.entries[id]?.waiters = [:]
            }
            return (woken, Array(state.readWaiters.values))
        }
        for waiter in woken { waiter.resume() }
        for reader in readers { reader.resume(nil) }
    }

    /// A continuation resumed once, by the first of its racers.
    private final class FirstValue: Sendable {
        private let continuation = Mutex<CheckedContinuation<Snapshot, Never>?>(nil)

        func set(_ value: CheckedContinuation<Snapshot, Never>) { continuation.withLock { $0 = value } }

        func resume(_ value: Snapshot) { continuation.withLock { $0.take() }?.resume(returning: value) }
    }

    /// The followers waiting for the read of `requestID` in flight (0 when none).
    func readers(_ requestID: String) -> Int {
        state.withLock { $0.entries[requestID]?.readers ?? 0 }
    }

    /// A replica wrote `requestID`: its followers read it again.
    func changed(_ requestID: String) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard var entry = state.entries[requestID] else { return [] }
            entry.generation += 1
            let woken = Array(entry.waiters.values)
            entry.waiters = [:]
            state.entries[requestID] = entry
            return woken
        }
        for waiter in woken { waiter.resume() }
    }

    /// The listener connected (`listening` true) or lost its connection: every follower reads
    /// again.
    func resync(listening: Bool) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.listening = listening
            var woken: [CheckedContinuation<Void, Never>] = []
            for id in Array(state.entries.keys) {
                state.entries[id]?.generation += 1
                woken.append(contentsOf: state.entries[id]?.waiters.values ?? [:].values)
                state.entries[id]?.waiters = [:]
            }
            return woken
        }
        for waiter in woken { waiter.resume() }
    }

    /// Waits until `requestID`'s generation is past `seen`, or `timeout` passes, or the task
    /// is cancelled; at once when it already is.
    func wait(for requestID: String, after seen: UInt64, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.change(of: requestID, after: seen) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func change(of requestID: String, after seen: UInt64) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if Task.isCancelled { return true }
                    var entry = state.entries[requestID, default: Entry()]
                    if entry.generation > seen { return true }
                    entry.waiters[id] = continuation
                    state.entries[requestID] = entry
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { state -> CheckedContinuation<Void, Never>? in
                let waiter = state.entries[requestID]?.waiters.removeValue(forKey: id)
                if let entry = state.entries[requestID], entry.followers <= 0, entry.waiters.isEmpty {
                    state.entries[requestID] = nil
                }
                return waiter
            }?.resume()
        }
    }
}

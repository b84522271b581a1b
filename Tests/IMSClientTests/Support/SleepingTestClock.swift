import Synchronization

/// A clock whose time moves only when the test calls ``advance(by:)`` or ``advance(to:)``;
/// ``sleep(until:tolerance:)`` suspends until the clock reaches the deadline, so code under test
/// that sleeps on it runs in exact, repeatable time without the test sleeping for real.
///
/// ``waitForSleepers(_:)`` lets a test wait until the code under test has gone to sleep, e.g.
/// before advancing the clock, instead of guessing with a real delay.
final class SleepingTestClock: Clock, Sendable {
    /// A point on the clock: the time since its origin, exact to the attosecond.
    struct Instant: InstantProtocol, CustomStringConvertible {
        /// Time since the clock's origin.
        var offset: Duration

        /// The clock's origin plus `offset`.
        init(offset: Duration) {
            self.offset = offset
        }

        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }

        func duration(to other: Instant) -> Duration { other.offset - offset }

        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }

        var description: String { "t=\(offset)" }
    }

    private struct Sleeper {
        let deadline: Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    /// A ``waitForSleepers(_:)`` call waiting for `count` sleepers.
    private struct Watcher {
        let id: UInt64
        let count: Int
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var now: Instant
        var lastID: UInt64 = 0
        var sleepers: [UInt64: Sleeper] = [:]
        var watchers: [Watcher] = []

        mutating func makeID() -> UInt64 {
            lastID += 1
            return lastID
        }

        /// Removes and returns the watchers whose count of sleepers is reached.
        mutating func satisfiedWatchers() -> [Watcher] {
            let count = sleepers.count
            let satisfied = watchers.filter { $0.count <= count }
            watchers.removeAll { $0.count <= count }
            return satisfied
        }
    }

    private let state: Mutex<State>

    /// A clock that reads `now` until advanced (the origin by default).
    init(now: Instant = Instant(offset: .zero)) {
        state = Mutex(State(now: now))
    }

    /// The current instant; it moves only on ``advance(by:)`` and ``advance(to:)``.
    var now: Instant { state.withLock { $0.now } }

    /// One attosecond: instants are exact.
    var minimumResolution: Duration { Duration(attoseconds: 1) }

    /// The instant `duration` after the origin.
    static func at(_ duration: Duration) -> Instant { Instant(offset: duration) }

    /// Suspends until the clock is advanced to or past `deadline`; returns at once when it
    /// already is.
    /// - Throws: `CancellationError` when the task is or gets cancelled first.
    func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try Task.checkCancellation()
        let id = state.withLock { $0.makeID() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Registration {
                    case cancelled
                    case due
                    case sleeping([Watcher])
                }
                let registration = state.withLock { state -> Registration in
                    // A cancellation handler that ran before this found nothing to remove, but
                    // it had set the flag.
                    if Task.isCancelled { return .cancelled }
                    if deadline <= state.now { return .due }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return .sleeping(state.satisfiedWatchers())
                }
                switch registration {
                case .cancelled:
                    continuation.resume(throwing: CancellationError())
                case .due:
                    continuation.resume()
                case .sleeping(let watchers):
                    for watcher in watchers { watcher.continuation.resume() }
                }
            }
        } onCancel: {
            state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock forward by `duration` and wakes the sleepers it reaches.
    func advance(by duration: Duration) {
        precondition(duration >= .zero, "a clock does not go back")
        advance(to: now.advanced(by: duration))
    }

    /// Moves the clock to `instant` (never back) and wakes the sleepers it reaches. They are
    /// removed from ``sleeperCount`` before this returns.
    /// - Parameter wakingSleepers: false leaves the sleepers due asleep (a scheduler running them
    ///   late) until the next call that wakes them.
    func advance(to instant: Instant, wakingSleepers: Bool = true) {
        let due = state.withLock { state -> [Sleeper] in
            precondition(instant >= state.now, "a clock does not go back")
            state.now = instant
            guard wakingSleepers else { return [] }
            let due = state.sleepers.filter { $0.value.deadline <= instant }
            for id in due.keys { state.sleepers[id] = nil }
            return Array(due.values)
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Sleepers suspended now.
    var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// The deadlines of the sleepers suspended now, earliest first.
    var sleeperDeadlines: [Instant] { state.withLock { $0.sleepers.values.map(\.deadline).sorted() } }

    /// Returns once at least `count` sleepers are suspended (at once if they already are), or
    /// when the waiting task is cancelled (e.g. by a test's time limit).
    func waitForSleepers(_ count: Int) async {
        let id = state.withLock { $0.makeID() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    guard state.sleepers.count < count, !Task.isCancelled else { return true }
                    state.watchers.append(Watcher(id: id, count: count, continuation: continuation))
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let watcher = state.withLock { state -> Watcher? in
                guard let index = state.watchers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.watchers.remove(at: index)
            }
            watcher?.continuation.resume()
        }
    }
}

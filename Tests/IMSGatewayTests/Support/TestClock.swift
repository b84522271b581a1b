import Synchronization

/// A clock whose time only moves when the test calls ``advance(by:)``. It does not sleep:
/// ``sleep(until:tolerance:)`` returns at once when the deadline has passed and throws
/// ``SleepUnsupported`` otherwise, so that a test relying on sleeping fails instead of hanging.
final class TestClock: Clock, Sendable {
    typealias Duration = Swift.Duration

    /// A point on the test clock: the time since the clock was created.
    struct Instant: InstantProtocol {
        var offset: Duration

        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    /// Thrown by ``sleep(until:tolerance:)`` for a deadline in the future.
    struct SleepUnsupported: Error {}

    private let current = Mutex(Instant(offset: .zero))

    var now: Instant { current.withLock { $0 } }

    var minimumResolution: Duration { .zero }

    /// Moves the clock forward by `duration`.
    func advance(by duration: Duration) {
        current.withLock { $0 = $0.advanced(by: duration) }
    }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        guard deadline <= now else { throw SleepUnsupported() }
    }
}

import Synchronization

/// State the handlers share with the test: requests that have arrived and how many ran at once.
final class TestServerProbe: Sendable {
    private struct State {
        var running = 0
        var peakRunning = 0
    }

    private let state = Mutex(State())
    private let arrivalContinuation: AsyncStream<String>.Continuation
    /// The path of every request to `/sleep/...`, yielded when its handler starts sleeping, so
    /// a test can act while the request is known to be in flight.
    let arrivals: AsyncStream<String>

    init() {
        (arrivals, arrivalContinuation) = AsyncStream.makeStream(of: String.self)
    }

    /// The largest number of `/item/...` handlers that ran at the same time.
    var peakRunning: Int { state.withLock { $0.peakRunning } }

    func arrived(_ path: String) {
        arrivalContinuation.yield(path)
    }

    func enter() {
        state.withLock { state in
            state.running += 1
            state.peakRunning = max(state.peakRunning, state.running)
        }
    }

    func leave() {
        state.withLock { $0.running -= 1 }
    }
}

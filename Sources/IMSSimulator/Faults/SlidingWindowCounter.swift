/// The quota's arithmetic, without I/O: each call is recorded at the instant it arrived; it is
/// admitted while fewer than `limit` admitted calls lie in the last `window`, and the largest
/// number of calls (admitted or not) seen in any window is kept. The caller passes the time, so
/// tests need no sleeps.
struct SlidingWindowCounter: Sendable {
    /// The window's length.
    let window: Duration
    /// Calls admitted per window; `nil` admits every call.
    let limit: Int?
    /// The most calls that arrived within any one window (the maximum over windows ending at an
    /// arrival, which is the maximum over all windows).
    private(set) var maxSeenInWindow = 0
    private var seen = InstantQueue()
    private var admitted = InstantQueue()

    /// - Parameters:
    ///   - window: the window's length.
    ///   - limit: calls admitted per window, or `nil` for no limit.
    init(window: Duration, limit: Int?) {
        self.window = window
        self.limit = limit
    }

    /// Records a call arriving at `now` (instants must not go backwards).
    /// - Returns: whether the quota admits it.
    mutating func record(at now: ContinuousClock.Instant) -> Bool {
        let start = now - window
        seen.dropThrough(start)
        admitted.dropThrough(start)
        seen.append(now)
        maxSeenInWindow = max(maxSeenInWindow, seen.count)
        if let limit, admitted.count >= limit { return false }
        admitted.append(now)
        return true
    }
}

/// A FIFO of instants that drops from the front cheaply (an array and a head index, compacted
/// once the dropped part is the larger half).
private struct InstantQueue: Sendable {
    private var items: [ContinuousClock.Instant] = []
    private var head = 0

    var count: Int { items.count - head }

    mutating func append(_ instant: ContinuousClock.Instant) {
        items.append(instant)
    }

    /// Drops every instant at or before `limit` (they are outside the window `(limit, now]`).
    mutating func dropThrough(_ limit: ContinuousClock.Instant) {
        while head < items.count, items[head] <= limit { head += 1 }
        if head > 1024, head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}

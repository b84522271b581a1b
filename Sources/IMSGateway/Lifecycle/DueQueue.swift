/// A min-heap of keys by due instant, for ``JobScheduler``. Entries are never removed from the
/// middle: a key pushed again gets a new generation, and the scheduler skips popped entries
/// whose generation is no longer the key's (lazy deletion, O(log n) per push and pop).
struct DueQueue<Key: Sendable>: Sendable {
    private var heap: [(key: Key, due: ContinuousClock.Instant, generation: UInt64)] = []

    /// Entries in the heap, stale ones included.
    var count: Int { heap.count }

    /// Adds `key` due at `due`.
    mutating func push(_ key: Key, at due: ContinuousClock.Instant, generation: UInt64) {
        heap.append((key, due, generation))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// The earliest entry.
    func peek() -> (Key, ContinuousClock.Instant, UInt64)? {
        heap.first.map { ($0.key, $0.due, $0.generation) }
    }

    /// Removes the earliest entry.
    mutating func pop() {
        guard !heap.isEmpty else { return }
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        siftDown(from: 0)
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var first = parent
            if left < heap.count, Self.before(heap[left], heap[first]) { first = left }
            if right < heap.count, Self.before(heap[right], heap[first]) { first = right }
            guard first != parent else { return }
            heap.swapAt(parent, first)
            parent = first
        }
    }

    /// Keeps only the entries `isLive` says are current, in heap order again (O(n)): the
    /// scheduler calls it when stale entries outnumber live ones, so that keys re-pushed
    /// often (a request's timer moves on every event) do not pile up until they come due.
    mutating func compact(keeping isLive: (Key, UInt64) -> Bool) {
        heap.removeAll { !isLive($0.key, $0.generation) }
        var parent = heap.count / 2 - 1
        while parent >= 0 {
            siftDown(from: parent)
            parent -= 1
        }
    }

    /// Earlier due first; for the same instant, the one pushed first.
    private static func before(
        _ lhs: (key: Key, due: ContinuousClock.Instant, generation: UInt64),
        _ rhs: (key: Key, due: ContinuousClock.Instant, generation: UInt64)
    ) -> Bool {
        lhs.due < rhs.due || (lhs.due == rhs.due && lhs.generation < rhs.generation)
    }
}

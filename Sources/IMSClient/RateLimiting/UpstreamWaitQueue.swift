/// A first-in first-out queue of waiters, each under a unique id, for ``UpstreamLimiter``.
///
/// Appending and taking the first waiter cost O(1) amortised, and so does removing any waiter by
/// its id (a cancelled caller), which a plain array would make O(n): removal leaves the id behind
/// in the order, skipped when met and swept out once stale ids outnumber live ones.
struct UpstreamWaitQueue<Element> {
    /// Ids in arrival order, from `start` on; some may be stale (no longer in `elements`).
    private var order: [UInt64] = []
    private var start = 0
    private var elements: [UInt64: Element] = [:]

    /// Waiters queued.
    var count: Int { elements.count }

    /// Whether no waiter is queued.
    var isEmpty: Bool { elements.isEmpty }

    /// Queues `element` last under `id`, which must not be queued already.
    mutating func append(_ element: Element, id: UInt64) {
        precondition(elements.updateValue(element, forKey: id) == nil, "waiter id queued twice")
        order.append(id)
    }

    /// The first waiter and its id, if any, without removing it.
    mutating func firstWithID() -> (id: UInt64, element: Element)? {
        dropStalePrefix()
        guard start < order.count, let element = elements[order[start]] else { return nil }
        return (order[start], element)
    }

    /// Removes and returns the first waiter and its id, if any.
    mutating func removeFirstWithID() -> (id: UInt64, element: Element)? {
        dropStalePrefix()
        guard start < order.count else { return nil }
        let id = order[start]
        start += 1
        guard let element = elements.removeValue(forKey: id) else { return nil }
        compactIfSparse()
        return (id, element)
    }

    /// Removes and returns the waiter queued under `id`, or nil when none is.
    mutating func remove(id: UInt64) -> Element? {
        guard let element = elements.removeValue(forKey: id) else { return nil }
        compactIfSparse()
        return element
    }

    private mutating func dropStalePrefix() {
        while start < order.count, elements[order[start]] == nil { start += 1 }
    }

    /// Rebuilds `order` when more than half of it is stale or already taken, so that its size
    /// stays proportional to the waiters queued.
    private mutating func compactIfSparse() {
        let held = order.count
        guard held > 32, held > 2 * elements.count else { return }
        order = order[start...].filter { elements[$0] != nil }
        start = 0
    }
}

extension UpstreamWaitQueue: Sendable where Element: Sendable {}

/// The waiters of ``UpstreamLimiter``, in the order tokens go to them: round robin over the
/// clients with waiters (weighted), within a client by ``UpstreamPriority`` and first in first
/// out, and a floor for background polls (docs/ARCHITECTURE.md, "The IMS call budget").
///
/// A pure value: it never reads a clock; ``next()`` names the waiter the next token goes to and
/// ``removeNext(granted:)`` takes it out. The limiter's projections copy the queue and play it
/// forward, so a copy must behave exactly as the original.
///
/// - Round robin: start-time fair queueing. Each client has a virtual tag; the client with
///   waiters and the lowest tag goes next (ties: the one that started waiting first); a grant
///   moves the queue's virtual time to that tag and the client's tag on by `1 / weight`. A
///   client that starts waiting gets the current virtual time as its tag, so idle spells earn
///   no credit and the newcomer is served at the next turn.
/// - Background floor: while background polls wait, every grant adds one credit; the grant
///   that brings it to ``backgroundShare`` goes to a background poll (of the client with the
///   lowest tag among those that have one), and any grant to a background poll takes
///   ``backgroundShare`` credits back. So background polls get at least one token in
///   ``backgroundShare`` (20 %) when they have calls waiting, more when the round robin gives it.
struct UpstreamFairQueue<Element> {
    /// One token in this many goes to a background poll while any waits.
    static var backgroundShare: Int { 5 }

    fileprivate struct ClientQueues {
        var weight: Double
        var queues = Array(repeating: UpstreamWaitQueue<Element>(), count: UpstreamPriority.allCases.count)
        var count = 0
        /// The virtual time of this client's next turn.
        var tag = 0.0
        /// When it last started waiting (breaks ties between equal tags).
        var since: UInt64 = 0

        init(weight: Double) { self.weight = weight }
    }

    private var clients: [String: ClientQueues] = [:]
    private var counts = Array(repeating: 0, count: UpstreamPriority.allCases.count)
    private var virtualTime = 0.0
    private var activations: UInt64 = 0
    private var backgroundCredit = 0

    /// Waiters queued, all priorities.
    var count: Int { counts.reduce(0, +) }

    /// Waiters queued with `priority`.
    func count(_ priority: UpstreamPriority) -> Int { counts[priority.rawValue] }

    /// Queues `element` last among `caller`'s waiters of `priority`, under `id` (never queued
    /// before); the caller's weight is updated to the one given.
    mutating func append(_ element: Element, id: UInt64, priority: UpstreamPriority, caller: UpstreamCaller) {
        if clients[caller.client]?.count ?? 0 == 0 { activations += 1 }
        let (now, since) = (virtualTime, activations)
        // In place: a copy of the client's queues would copy them on every call.
        modify(caller.client, creating: ClientQueues(weight: caller.weight)) { client in
            client.weight = caller.weight
            if client.count == 0 {
                client.tag = max(client.tag, now)
                client.since = since
            }
            client.queues[priority.rawValue].append(element, id: id)
            client.count += 1
        }
        counts[priority.rawValue] += 1
    }

    /// The place of the waiter the next token goes to, or nil when none waits.
    func next() -> (client: String, priority: UpstreamPriority)? {
        guard count > 0 else { return nil }
        let background = UpstreamPriority.backgroundPoll.rawValue
        let forced = counts[background] > 0 && backgroundCredit + 1 >= Self.backgroundShare
        var best: (name: String, tag: Double, since: UInt64)?
        for (name, client) in clients where client.count > 0 && (!forced || client.queues[background].count > 0) {
            if let current = best, (current.tag, current.since) <= (client.tag, client.since) { continue }
            best = (name, client.tag, client.since)
        }
        guard let best, let client = clients[best.name] else { return nil }
        if forced { return (best.name, .backgroundPoll) }
        guard let priority = UpstreamPriority.allCases.first(where: { client.queues[$0.rawValue].count > 0 }) else { return nil }
        return (best.name, priority)
    }

    /// The waiter ``next()`` names, with its id, without removing it.
    mutating func peekNext() -> (id: UInt64, element: Element)? {
        guard let (name, priority) = next() else { return nil }
        return clients[name]?.queues[priority.rawValue].firstWithID()
    }

    /// Removes the waiter ``next()`` names. `granted` tells whether it got a token (the round
    /// robin and the background floor move on) or was refused (they stay as they are).
    @discardableResult
    mutating func removeNext(granted: Bool) -> (id: UInt64, element: Element)? {
        guard let (name, priority) = next() else { return nil }
        let taken = modify(name) { client -> (id: UInt64, element: Element, tag: Double)? in
            guard let (id, element) = client.queues[priority.rawValue].removeFirstWithID() else { return nil }
            client.count -= 1
            let tag = client.tag
            if granted { client.tag += 1 / client.weight }
            return (id, element, tag)
        }
        guard let taken = taken ?? nil else { return nil }
        if granted {
            if counts[UpstreamPriority.backgroundPoll.rawValue] > 0 {
                backgroundCredit = min(backgroundCredit + 1, Self.backgroundShare)
                if priority == .backgroundPoll { backgroundCredit = max(0, backgroundCredit - Self.backgroundShare) }
            }
            virtualTime = max(virtualTime, taken.tag)
        }
        removed(priority)
        return (taken.id, taken.element)
    }

    /// Removes the waiter queued under `id` by `client` with `priority`; nil when it is not
    /// queued there.
    mutating func remove(id: UInt64, client name: String, priority: UpstreamPriority) -> Element? {
        let element = modify(name) { client -> Element? in
            guard let element = client.queues[priority.rawValue].remove(id: id) else { return nil }
            client.count -= 1
            return element
        }
        guard let element = element ?? nil else { return nil }
        removed(priority)
        return element
    }

    /// Runs `body` on the queues of client `name` in place (creating them from `initial` when
    /// given); nil when the client has none and no `initial` is given.
    private mutating func modify<Result>(
        _ name: String, creating initial: @autoclosure () -> ClientQueues? = nil, _ body: (inout ClientQueues) -> Result
    ) -> Result? {
        if clients.index(forKey: name) == nil, let initial = initial() { clients[name] = initial }
        guard let index = clients.index(forKey: name) else { return nil }
        return body(&clients.values[index])
    }

    private mutating func removed(_ priority: UpstreamPriority) {
        counts[priority.rawValue] -= 1
        // The floor is for background polls waiting now; it is not saved up while none waits.
        if counts[UpstreamPriority.backgroundPoll.rawValue] == 0 { backgroundCredit = 0 }
    }
}

extension UpstreamFairQueue: Sendable where Element: Sendable {}
extension UpstreamFairQueue.ClientQueues: Sendable where Element: Sendable {}

import Synchronization

/// How many replicas this one last saw alive on the shared store (their heartbeats, stored by
/// ``LeaseService`` at each pass, within `store.leaseSeconds`), itself included: what it divides
/// the shared budgets by while the store cannot be reached (docs/ARCHITECTURE.md, "Shared
/// budgets"). 1 until the first heartbeat.
final class AliveReplicas: Sendable {
    private let count = Atomic<Int>(1)

    /// The replicas last seen alive, at least 1.
    var value: Int { count.load(ordering: .relaxed) }

    /// The share of a budget this replica uses alone: 1 / ``value``.
    var share: Double { 1 / Double(value) }

    /// Records the count of the last heartbeat (below 1 counts as 1).
    func update(_ replicas: Int) {
        count.store(max(1, replicas), ordering: .relaxed)
    }
}

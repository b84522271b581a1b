import Dispatch
import GRDB
import Synchronization

/// The store's writes, committed in groups (docs/ARCHITECTURE.md, "State and recovery"): every
/// write waiting for the writer connection when it frees up goes into the same IMMEDIATE
/// transaction, each inside a savepoint of its own, so that one write's failure rolls back
/// that write only. A write's caller is resumed once the transaction that holds it is
/// committed (or has failed), never before: what a caller was told stored is on disk
/// (`synchronous=NORMAL`: durable at the next WAL checkpoint, safe against a process crash).
///
/// Why: each commit appends every page it changed to the WAL. Requests that write at the same
/// moment change the same few pages (the requests table, its indexes, the events), which a
/// group writes once instead of once per write (BENCHMARKS.md, "The store's CPU").
///
/// The writes run on one serial dispatch queue of their own, through GRDB's blocking write
/// API; no Swift concurrency thread waits on SQLite. A waiting caller whose task is cancelled
/// still gets the write's real result: a write is either done or not, never unknown.
final class GroupCommitWriter: Sendable {
    private typealias Statements = SQLiteGatewayStore.Statements

    /// One write: `apply` runs it inside the transaction (it keeps its own value), `finish`
    /// resumes its caller with nil (committed) or the error.
    struct Pending: Sendable {
        var apply: @Sendable (Database) throws -> Void
        var finish: @Sendable ((any Error)?) -> Void
    }

    private struct State {
        var pending: [Pending] = []
        var draining = false
    }

    /// At most this many writes share a transaction (bounds the wait of the first).
    static let maxGroup = 64

    private let pool: DatabasePool
    private let queue = DispatchQueue(label: "ims-gateway.store.writes")
    private let state = Mutex(State())
    private let transactions = Atomic<Int>(0)

    /// SQLite transactions committed (each holds one or more writes).
    var commits: Int { transactions.load(ordering: .relaxed) }

    /// Whether a group is being committed, and the writes waiting for the next one, for tests.
    var waiting: (committing: Bool, writes: Int) { state.withLock { ($0.draining, $0.pending.count) } }

    init(pool: DatabasePool) {
        self.pool = pool
    }

    /// Runs `body` in the next group's transaction and returns its value once committed.
    /// - Throws: what `body` threw (its savepoint rolled back), or the error that failed the
    ///   whole transaction (its BEGIN or COMMIT, or an error after which SQLite ended it).
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let box = Box<T>()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            enqueue(Pending(
                apply: { db in box.value = try body(db) },
                finish: { error in
                    if let error {
                        continuation.resume(throwing: error)
                    } else if let value = box.value {
                        continuation.resume(returning: value)
                    } else {
                        continuation.resume(throwing: DatabaseError(message: "a committed write left no value"))
                    }
                }))
        }
    }

    private func enqueue(_ write: Pending) {
        let start = state.withLock { state -> Bool in
            state.pending.append(write)
            defer { state.draining = true }
            return !state.draining
        }
        if start { queue.async { self.drain() } }
    }

    /// Commits groups until nothing waits.
    private func drain() {
        while true {
            let group = state.withLock { state -> [Pending] in
                let group = Array(state.pending.prefix(Self.maxGroup))
                state.pending.removeFirst(group.count)
                if group.isEmpty { state.draining = false }
                return group
            }
            guard !group.isEmpty else { return }
            let leftOver = commit(group)
            if !leftOver.isEmpty {
                state.withLock { $0.pending.insert(contentsOf: leftOver, at: 0) }
            }
        }
    }

    /// Runs `group` in one transaction and finishes every write it settled.
    /// - Returns: the writes not run because SQLite ended the transaction before them (they go
    ///   in the next group).
    private func commit(_ group: [Pending]) -> [Pending] {
        var results: [(any Error)?] = []
        var leftOver: [Pending] = []
        do {
            try pool.writeWithoutTransaction { db in
                try db.storeStatement(Statements.beginImmediate).execute()
                do {
                    let savepoints = group.count > 1
                    for (position, write) in group.enumerated() {
                        if savepoints { try db.storeStatement(Statements.savepoint).execute() }
                        do {
                            try write.apply(db)
                        } catch {
                            guard savepoints, db.isInsideTransaction else {
                                // SQLite ended the transaction (or there is only this write): the
                                // writes before it are lost with it, the ones after go next time.
                                results = Array(repeating: error, count: results.count + 1)
                                leftOver = Array(group[(position + 1)...])
                                try? db.rollback()
                                return
                            }
                            try db.storeStatement(Statements.rollbackToSavepoint).execute()
                            try db.storeStatement(Statements.releaseSavepoint).execute()
                            results.append(error)
                            continue
                        }
                        if savepoints { try db.storeStatement(Statements.releaseSavepoint).execute() }
                        results.append(nil)
                    }
                    try db.storeStatement(Statements.commit).execute()
                    transactions.add(1, ordering: .relaxed)
                } catch {
                    // A savepoint statement or COMMIT failed: the writer connection is never
                    // left inside a transaction (the next BEGIN would fail).
                    try? db.rollback()
                    throw error
                }
            }
        } catch {
            // BEGIN, a savepoint statement or COMMIT failed: nothing of the group is stored.
            results = Array(repeating: error, count: group.count - leftOver.count)
        }
        for (write, result) in zip(group, results) { write.finish(result) }
        return leftOver
    }

    /// A write's value, set on the writer's queue and read by its finish after the commit.
    private final class Box<T>: @unchecked Sendable {
        var value: T?
    }
}

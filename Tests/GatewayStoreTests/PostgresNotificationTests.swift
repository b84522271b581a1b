import Foundation
import GatewayStore
import PostgresNIO
import PostgresTestSupport
import Synchronization
import Testing

/// The change notifications of the PostgreSQL store (docs/ARCHITECTURE.md, "Repeats on another
/// replica"): one replica listens on its own connection, another writes.
@Suite("PostgreSQL store: change notifications", .enabled(if: PostgresTestServer.runs, "POSTGRES_TEST_URL is not set"))
struct PostgresNotificationTests {
    final class Heard: Sendable {
        let ids = Mutex<[String]>([])
        let connected = Mutex(0)
    }

    /// Polls `condition` every 20 ms for up to `seconds` (real time, loose).
    static func eventually(_ seconds: Double, _ condition: () -> Bool) async throws -> Bool {
        let end = ContinuousClock.now.advanced(by: .seconds(seconds))
        while ContinuousClock.now < end {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    @Test("a write of another replica that appends events or changes the state is heard with the request id once it commits; the listener resyncs when it connects")
    func heardAcrossReplicas() async throws {
        let tested = try await TestStore.open(.postgres)
        let a = try #require(tested.postgres)
        let heard = Heard()
        let listener = Task {
            await a.listenForChanges(
                changed: { id in heard.ids.withLock { $0.append(id) } },
                resync: { listening in if listening { heard.connected.withLock { $0 += 1 } } })
        }
        #expect(try await Self.eventually(10) { heard.connected.withLock { $0 } == 1 })
        try await tested.withReplica("replica-b") { b in
            // An admission notifies nobody: nobody can follow a request before it is stored.
            #expect(try await Fixture.admit(b, Fixture.request("r1")) == .admitted)
            try await b.update(requestID: "r1", batches: [], change: nil, events: Fixture.events("batch"))
            #expect(try await Self.eventually(10) { heard.ids.withLock { $0 } == ["r1"] }, "\(heard.ids.withLock { $0 })")
            try await b.update(
                requestID: "r1", batches: [], change: RequestChange(state: .final, at: Fixture.ms(1_780_000_001_000)),
                events: [])
            #expect(try await Self.eventually(10) { heard.ids.withLock { $0 } == ["r1", "r1"] }, "\(heard.ids.withLock { $0 })")
        }
        listener.cancel()
        await listener.value
        try await tested.close()
    }

    @Test("a listener whose connection stops answering (its server process stopped with SIGSTOP) is taken for lost within its check and reconnects by itself")
    func stalledListenerReconnects() async throws {
        let tested = try await TestStore.open(.postgres)
        let a = try #require(tested.postgres)
        let heard = Heard()
        let lost = Mutex(0)
        let listener = Task {
            await a.listenForChanges(
                changed: { id in heard.ids.withLock { $0.append(id) } },
                resync: { listening in
                    if listening { heard.connected.withLock { $0 += 1 } } else { lost.withLock { $0 += 1 } }
                })
        }
        #expect(try await Self.eventually(10) { heard.connected.withLock { $0 } == 1 })
        // The listener's server process: the one session of this database that ran LISTEN.
        let pid = try await PostgresTestServer.withConnection(database: tested.databaseName) { connection in
            let rows = try await connection.query(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
                logger: Fixture.logger
            ).collect()
            return try #require(rows.first).decode(Int32.self)
        }
        kill(pid_t(pid), SIGSTOP)
        defer { kill(pid_t(pid), SIGCONT) }
        // Check every 5 s, answer within 5 s: lost after at most about 10 s (loose bound).
        #expect(try await Self.eventually(25) { lost.withLock { $0 } >= 1 }, "the stalled listener was not noticed")
        #expect(try await Self.eventually(15) { heard.connected.withLock { $0 } == 2 }, "it did not reconnect")
        kill(pid_t(pid), SIGCONT)
        // The new connection hears writes again.
        try await tested.withReplica("replica-b") { b in
            #expect(try await Fixture.admit(b, Fixture.request("r1")) == .admitted)
            try await b.update(requestID: "r1", batches: [], change: nil, events: Fixture.events("batch"))
            #expect(try await Self.eventually(10) { heard.ids.withLock { $0 } == ["r1"] }, "\(heard.ids.withLock { $0 })")
        }
        listener.cancel()
        await listener.value
        try await tested.close()
    }
}

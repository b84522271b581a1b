import Foundation
import GatewayStore
import PostgresTestSupport
import Testing

/// The token buckets of the PostgreSQL store (docs/ARCHITECTURE.md, "Shared budgets"): two
/// store objects with their own replica ids on one real database take from one bucket. The
/// buckets run on the database's clock; tests use rates so slow (0.001/s) that nothing refills
/// during a test, or check refill times against loose bounds.
@Suite("PostgreSQL store: shared token buckets", .enabled(if: PostgresTestServer.runs, "POSTGRES_TEST_URL is not set"))
struct PostgresTokenBucketTests {
    @Test("20 takes at once from two replicas on a bucket of burst 5 and rate 0.001/s: exactly 5 granted, the rest told to come back in about 1000 s")
    func exactUnderConcurrency() async throws {
        let tested = try await TestStore.open(.postgres)
        let a = try #require(tested.postgres)
        let takes = try await tested.withReplica("replica-b") { b in
            try await withThrowingTaskGroup(of: SharedTokenTake.self) { group in
                for index in 0..<20 {
                    let store = index.isMultiple(of: 2) ? a : b
                    group.addTask { try await store.takeToken(bucket: "client:one", rate: 0.001, burst: 5) }
                }
                var takes: [SharedTokenTake] = []
                for try await take in group { takes.append(take) }
                return takes
            }
        }
        #expect(takes.filter(\.granted).count == 5)
        #expect(takes.filter(\.granted).map(\.remaining).sorted() == [0, 1, 2, 3, 4])
        for refused in takes where !refused.granted {
            // One token at 0.001/s: 1,000,000 ms, less what elapsed since the last grant.
            #expect((990_000...1_000_000).contains(refused.retryAfterMs), "\(refused)")
        }
        // Another bucket is not touched.
        #expect(try await a.takeToken(bucket: "client:two", rate: 0.001, burst: 5).remaining == 4)
        try await tested.close()
    }

    @Test("a bucket refills at its rate: burst 2 at 0.25/s, the third take is refused for at most 4 s, then granted")
    func refill() async throws {
        let tested = try await TestStore.open(.postgres)
        let store = try #require(tested.postgres)
        // 0.25/s: the refusal holds for up to 4 s, far longer than the three takes take even
        // on a loaded machine (at 2/s the third take came after the refill once).
        #expect(try await store.takeToken(bucket: "upstream", rate: 0.25, burst: 2).granted)
        #expect(try await store.takeToken(bucket: "upstream", rate: 0.25, burst: 2).granted)
        let refused = try await store.takeToken(bucket: "upstream", rate: 0.25, burst: 2)
        #expect(!refused.granted)
        #expect((1...4000).contains(refused.retryAfterMs), "\(refused)")
        try await Task.sleep(for: .milliseconds(refused.retryAfterMs + 20))
        #expect(try await store.takeToken(bucket: "upstream", rate: 0.25, burst: 2).granted)
        try await tested.close()
    }

    @Test("a pause refuses every take until it ends; a shorter pause does not shorten it; a new burst caps the tokens held")
    func pause() async throws {
        let tested = try await TestStore.open(.postgres)
        let store = try #require(tested.postgres)
        let first = try await store.takeToken(bucket: "upstream", rate: 10, burst: 10)
        #expect(first.remaining == 9)
        #expect(first.pausedForMs == 0)
        try await store.pauseBucket("upstream", rate: 10, milliseconds: 60_000)
        try await store.pauseBucket("upstream", rate: 10, milliseconds: 1_000)
        let refused = try await store.takeToken(bucket: "upstream", rate: 10, burst: 10)
        #expect(!refused.granted)
        // Loose: seconds can pass between the pause and the take on a loaded machine.
        #expect((45_000...60_000).contains(refused.retryAfterMs), "\(refused)")
        // The pause is named as such, for the replicas that did not store it (their /readyz).
        #expect((45_000...60_000).contains(refused.pausedForMs), "\(refused)")

        // A short pause ends, and the bucket restarts with exactly one token.
        // 3 s: loose, so that the take right after the pause comes before its end even on a
        // loaded machine.
        try await store.pauseBucket("short", rate: 0.001, milliseconds: 3_000)
        let paused = try await store.takeToken(bucket: "short", rate: 0.001, burst: 10)
        #expect(!paused.granted)
        #expect((1...3_000).contains(paused.retryAfterMs), "\(paused)")
        try await Task.sleep(for: .milliseconds(paused.retryAfterMs + 100))
        #expect(try await store.takeToken(bucket: "short", rate: 0.001, burst: 10).granted)
        // Refused by the refill alone: no pause.
        let empty = try await store.takeToken(bucket: "short", rate: 0.001, burst: 10)
        #expect(!empty.granted)
        #expect(empty.pausedForMs == 0)

        #expect(try await store.takeToken(bucket: "resized", rate: 0.001, burst: 10).remaining == 9)
        #expect(try await store.takeToken(bucket: "resized", rate: 0.001, burst: 3).remaining == 2)
        try await tested.close()
    }

    @Test("heartbeats: each replica counts the replicas seen alive within the window, itself included")
    func heartbeats() async throws {
        let tested = try await TestStore.open(.postgres)
        let a = try #require(tested.postgres)
        #expect(try await a.heartbeat(withinMs: 30_000) == 1)
        try await tested.withReplica("replica-b") { b in
            #expect(try await b.heartbeat(withinMs: 30_000) == 2)
            #expect(try await a.heartbeat(withinMs: 30_000) == 2)
            try await Task.sleep(for: .milliseconds(300))
            // B's last beat is older than 100 ms; A's is new.
            #expect(try await a.heartbeat(withinMs: 100) == 1)
        }
        try await tested.close()
    }
}

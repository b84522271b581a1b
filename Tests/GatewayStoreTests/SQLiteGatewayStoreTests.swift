import Foundation
import GRDB
import GatewayStore
import Testing

/// What only the SQLite store does: one file, folded back on close; online backup.
@Suite("SQLite store: the file")
struct SQLiteGatewayStoreTests {
    @Test("data survives close and reopen: running requests come back, oldest first")
    func restart() async throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        do {
            let store = try Fixture.store(path)
            #expect(try await Fixture.admit(store, Fixture.request("late", created: 1_780_000_009_000)) == .admitted)
            #expect(try await Fixture.admit(store, Fixture.request("early", created: 1_780_000_001_000)) == .admitted)
            #expect(try await Fixture.admit(store, Fixture.request("done", created: 1_780_000_000_000)) == .admitted)
            try await store.update(
                requestID: "done", batches: [], change: RequestChange(state: .final, at: Fixture.ms(1_780_000_002_000)),
                events: Fixture.events("result"))
            try store.close()
        }
        // Closed, the store is one file: the WAL was folded back into it.
        let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        #expect(wal == 0)
        let alone = folder.file("alone.sqlite")
        try FileManager.default.copyItem(atPath: path, toPath: alone)
        let copied = try SQLiteGatewayStore(path: alone, gatewayVersion: "0.6.0", logger: Fixture.logger)
        #expect(try await copied.request(id: "done")?.request.state == .final)
        try copied.close()
        let reopened = try SQLiteGatewayStore(path: path, gatewayVersion: "0.6.0", logger: Fixture.logger)
        try reopened.checkSchema()
        let running = try await reopened.runningRequests()
        #expect(running.map(\.request.id) == ["early", "late"])
        var expected = Fixture.request("early", created: 1_780_000_001_000)
        expected.eventCounter = 1
        #expect(running.first?.request == expected)
        #expect(running.first?.batches == [Fixture.batch(0)])
        #expect(try await reopened.request(id: "done")?.request.state == .final)
        #expect(try await reopened.events(requestID: "done", afterID: 0, limit: 10).map(\.id) == [1, 2])
        try reopened.close()
    }

    @Test("a new file gets 2 KB pages; a file made with 4 KB pages keeps them and works")
    func pageSize() async throws {
        let folder = try TemporaryFolder()
        func pageSize(_ path: String) throws -> Int? {
            var configuration = Configuration()
            configuration.readonly = true
            return try DatabaseQueue(path: path, configuration: configuration).read { db in
                try Int.fetchOne(db, sql: "PRAGMA page_size")
            }
        }
        let fresh = folder.file("fresh.sqlite")
        let store = try Fixture.store(fresh)
        #expect(try await Fixture.admit(store, Fixture.request("a")) == .admitted)
        try store.close()
        #expect(try pageSize(fresh) == 2048)

        // As SQLite's default made every store before 2 KB pages: WAL on an empty 4 KB file.
        let old = folder.file("old.sqlite")
        try await DatabaseQueue(path: old).writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA page_size = 4096")
            _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
        }
        let reopened = try Fixture.store(old)
        #expect(try await Fixture.admit(reopened, Fixture.request("b")) == .admitted)
        #expect(try await reopened.request(id: "b")?.request.id == "b")
        try reopened.close()
        #expect(try pageSize(old) == 4096)
    }

    @Test("backup: the copy opens as a store with the same requests; an existing file is not overwritten")
    func backup() async throws {
        let folder = try TemporaryFolder()
        let store = try Fixture.store(folder.file("store.sqlite"))
        #expect(try await Fixture.admit(store, Fixture.request("a", key: "ka")) == .admitted)
        #expect(try await Fixture.admit(store, Fixture.request("b")) == .admitted)
        let copyPath = folder.file("copy.sqlite")
        try store.backup(to: copyPath)

        let existing = folder.file("existing.sqlite")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: existing))
        let error = try #require(throws: StoreError.self) { try store.backup(to: existing) }
        #expect(error.kind == .failed)
        #expect(error.message.contains(existing))
        #expect(try Data(contentsOf: URL(fileURLWithPath: existing)) == Data("keep me".utf8))
        let again = try #require(throws: StoreError.self) { try store.backup(to: copyPath) }
        #expect(again.kind == .failed)

        let originalA = try await store.request(id: "a")
        let originalB = try await store.request(id: "b")
        let copy = try SQLiteGatewayStore(path: copyPath, gatewayVersion: "0.6.0", logger: Fixture.logger)
        try copy.checkSchema()
        #expect(try await copy.request(id: "a") == originalA)
        #expect(try await copy.request(id: "b") == originalB)
        #expect(try await copy.request(client: "alpha", idempotencyKey: "ka") == originalA)
        #expect(try await copy.runningRequests().map(\.request.id).sorted() == ["a", "b"])
        #expect(try await copy.events(requestID: "a", afterID: 0, limit: 10).map(\.kind) == ["admitted"])
        try copy.close()

        // The offline form (ims-gateway backup, while serve holds the lock): a 0600 copy.
        let offline = folder.file("offline.sqlite")
        try SQLiteGatewayStore.backup(storeAt: folder.file("store.sqlite"), to: offline)
        let mode = try FileManager.default.attributesOfItem(atPath: offline)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let offlineCopy = try SQLiteGatewayStore(path: offline, gatewayVersion: "0.6.0", logger: Fixture.logger)
        #expect(try await offlineCopy.request(id: "a") == originalA)
        try offlineCopy.close()
        let refused = try #require(throws: StoreError.self) {
            try SQLiteGatewayStore.backup(storeAt: folder.file("store.sqlite"), to: offline)
        }
        #expect(refused.kind == .failed)
        // Never through a symbolic link (a dangling one would create its target).
        let link = folder.file("link.sqlite")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: folder.file("victim.sqlite"))
        #expect(throws: StoreError.self) { try SQLiteGatewayStore.backup(storeAt: folder.file("store.sqlite"), to: link) }
        #expect(!FileManager.default.fileExists(atPath: folder.file("victim.sqlite")))
        try store.close()
    }
}

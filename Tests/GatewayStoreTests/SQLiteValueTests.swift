import Foundation
import GRDB
import Testing

@testable import GatewayStore

/// `Database.run`: the store's writes bound through SQLite's C API, on a real SQLite file.
@Suite("SQLite store: values bound through SQLite's C API")
struct SQLiteValueTests {
    private static func withTable(_ body: (Database) throws -> Void) throws {
        let folder = try TemporaryFolder()
        let queue = try DatabaseQueue(path: folder.file("values.sqlite"))
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "CREATE TABLE t (k TEXT PRIMARY KEY NOT NULL, s TEXT, i INTEGER, r REAL)")
            try body(db)
        }
    }

    @Test("each kind is stored as its SQLite type: an empty text stays '', not NULL; non-ASCII text and Int64.max round-trip")
    func kinds() throws {
        try Self.withTable { db in
            let sql = "INSERT INTO t (k, s, i, r) VALUES (?, ?, ?, ?)"
            try db.run(sql, [.text("a"), .text(""), .integer(Int64.max), .real(1.5)])
            try db.run(sql, [.text("b"), .text("héllo, 世界 \u{1F600}"), .integer(nil as Int64?), .null])
            try db.run(sql, [.text("c"), .text(nil as String?), .integer(-7 as Int?), .real(-0.25)])
            let rows = try Row.fetchAll(db, sql: "SELECT k, s, typeof(s), i, typeof(i), r, typeof(r) FROM t ORDER BY k")
            #expect(rows.count == 3)
            #expect(rows[0]["s"] as String? == "" && rows[0][2] as String == "text")
            #expect(rows[0]["i"] as Int64? == Int64.max && rows[0]["r"] as Double? == 1.5)
            #expect(rows[1]["s"] as String? == "héllo, 世界 \u{1F600}")
            #expect(rows[1][4] as String == "null" && rows[1][6] as String == "null")
            #expect(rows[2][2] as String == "null" && rows[2]["i"] as Int64? == -7 && rows[2]["r"] as Double? == -0.25)
        }
    }

    @Test("the first row comes back (RETURNING, SELECT): integers, texts, nil for NULL; no row is nil")
    func firstRow() throws {
        try Self.withTable { db in
            let row = try #require(try db.run(
                "INSERT INTO t (k, s, i) VALUES (?, ?, ?) RETURNING i + 1, s, r", [.text("a"), .text("x"), .integer(41 as Int64?)]))
            #expect(row.integer(0) == 42)
            #expect(row.text(1) == "x")
            #expect(row.text(2) == nil && row.integer(2) == nil)
            #expect(row.integer(1) == nil, "a text is not read as an integer")
            #expect(row.integer(9) == nil, "out of range")
            #expect(try db.run("SELECT s FROM t WHERE k = ?", [.text("none")]) == nil)
            try db.run("INSERT INTO t (k) VALUES (?)", [.text("b")])
            let first = try #require(try db.run("SELECT k FROM t ORDER BY k", []))
            #expect(first.text(0) == "a", "the first of two rows")
        }
    }

    @Test("a failed statement throws SQLite's code and message without the values, and runs again afterwards")
    func failures() throws {
        try Self.withTable { db in
            let sql = "INSERT INTO t (k, s) VALUES (?, ?)"
            try db.run(sql, [.text("a"), .text("secret-1")])
            do {
                try db.run(sql, [.text("a"), .text("secret-2")])
                Issue.record("a duplicate key was inserted")
            } catch let error as DatabaseError {
                #expect(error.resultCode == .SQLITE_CONSTRAINT)
                #expect(error.message?.contains("UNIQUE") == true)
                #expect(!"\(error)".contains("secret"))
            }
            try db.run(sql, [.text("b"), .text("after")])
            #expect(try String.fetchOne(db, sql: "SELECT s FROM t WHERE k = 'b'") == "after")
            do {
                try db.run(sql, [.text("c")])
                Issue.record("one value for two parameters ran")
            } catch let error as DatabaseError {
                #expect(error.resultCode == .SQLITE_MISUSE)
                #expect(error.message == "1 values for 2 parameters")
            }
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t") == 2)
        }
    }

    @Test("storeStatement: GRDB's cached statement, found again; texts alike at both ends and of one length are told apart")
    func statementIndex() throws {
        try Self.withTable { db in
            let first = try db.storeStatement("SELECT 'aa' AS v")
            #expect(try db.storeStatement("SELECT 'aa' AS v") === first)
            #expect(try db.cachedStatement(sql: "SELECT 'aa' AS v") === first, "the statement of GRDB's own cache")
            // The same length, first and last eight bytes: the index must still compare the whole text.
            let alike = [
                "SELECT 1 AS v, 'x1' AS w, 'tail'", "SELECT 1 AS v, 'y2' AS w, 'tail'", "SELECT 1 AS v, 'z3' AS w, 'tail'",
            ]
            for (index, sql) in alike.enumerated() {
                let row = try #require(try db.run(sql, []))
                #expect(row.text(1) == ["x1", "y2", "z3"][index], "\(sql)")
            }
            let one = try db.storeStatement(alike[0]), other = try db.storeStatement(alike[1])
            #expect(one !== other)
        }
    }

    @Test("storeStatement holds GRDB's statements weakly: the connection closes (no unfinalized statement), a new one prepares its own")
    func statementIndexLetsConnectionsClose() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("index.sqlite")
        let sql = "SELECT 41 + ? AS v"
        for _ in 0..<3 {
            let queue = try DatabaseQueue(path: path)
            let value = try queue.inDatabase { db in try db.run(sql, [.integer(1 as Int64?)])?.integer(0) }
            #expect(value == 42)
            // sqlite3_close refuses to close a connection with a statement still alive: a
            // strong reference kept by the index would make this throw SQLITE_BUSY.
            try queue.close()
        }
    }
}


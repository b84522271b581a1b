import GRDB
import GRDBSQLite
import Synchronization

/// One value bound to a `?` of a store statement run by ``GRDB/Database/run(_:_:)``: the SQLite
/// storage classes the store uses (TEXT, INTEGER, REAL, NULL).
///
/// Why not GRDB's `StatementArguments`: the store's writes run about 20 statements a request,
/// and building the arguments (each value boxed as an existential, then converted to a
/// `DatabaseValue`), checking them against the statement and binding them through nested
/// closures cost about 120,000 instructions a request, 5 % of the request path (BENCHMARKS.md,
/// "The store's writes"). The statements still come from GRDB's statement cache, and its raw
/// `sqliteStatement` is the documented way to call SQLite's C API on a GRDB connection.
enum SQLiteValue {
    case text(String)
    case integer(Int64)
    case real(Double)
    case null

    /// `.text`, or `.null` for nil.
    static func text(_ value: String?) -> SQLiteValue { value.map { .text($0) } ?? .null }
    /// `.integer`, or `.null` for nil.
    static func integer(_ value: Int64?) -> SQLiteValue { value.map { .integer($0) } ?? .null }
    /// `.integer` of an `Int`, or `.null` for nil.
    static func integer(_ value: Int?) -> SQLiteValue { value.map { .integer(Int64($0)) } ?? .null }

    /// SQLite copies a bound text at once (`SQLITE_TRANSIENT`), so the Swift string need not
    /// outlive the bind.
    private static var transient: sqlite3_destructor_type { unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self) }

    /// Binds the value to the 1-based parameter `index` of `statement`.
    /// - Returns: SQLite's result code (`SQLITE_OK`, `SQLITE_RANGE`, `SQLITE_TOOBIG`, `SQLITE_NOMEM`).
    fileprivate func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        switch self {
        case .text(let string):
            var string = string
            return string.withUTF8 { utf8 in
                // An empty buffer may have no address, and SQLite binds a null pointer as NULL.
                guard let base = utf8.baseAddress, !utf8.isEmpty else {
                    return sqlite3_bind_text(statement, index, "", 0, Self.transient)
                }
                // The 64-bit call: a text too long for SQLite is SQLITE_TOOBIG, not a trap.
                return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                    sqlite3_bind_text64(
                        statement, index, $0, sqlite3_uint64(utf8.count), Self.transient, UInt8(SQLITE_UTF8))
                }
            }
        case .integer(let value): return sqlite3_bind_int64(statement, index, value)
        case .real(let value): return sqlite3_bind_double(statement, index, value)
        case .null: return sqlite3_bind_null(statement, index)
        }
    }
}

extension Database {
    /// Runs `sql`, one of ``SQLiteGatewayStore/Statements`` (from GRDB's statement cache), with
    /// `values` bound to its `?` in order, stepping it to its end.
    /// - Returns: the columns of its first row (`RETURNING` or `SELECT`), `nil` when it gives none.
    /// - Throws: GRDB's `DatabaseError` with SQLite's extended result code and message (the
    ///   statement's values are never part of it).
    @discardableResult
    func run(_ sql: String, _ values: [SQLiteValue]) throws -> StoreRow? {
        let statement = try storeStatement(sql)
        let raw = statement.sqliteStatement
        // The result of a reset repeats the last step's error, if any; the statement is reset
        // either way and ready to run again.
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
        guard values.count == Int(sqlite3_bind_parameter_count(raw)) else {
            throw DatabaseError(
                resultCode: .SQLITE_MISUSE,
                message: "\(values.count) values for \(sqlite3_bind_parameter_count(raw)) parameters", sql: sql)
        }
        for (index, value) in values.enumerated() {
            let code = value.bind(to: raw, at: Int32(index + 1))
            guard code == SQLITE_OK else { throw failure(code, sql: sql) }
        }
        var first: StoreRow?
        while true {
            let code = sqlite3_step(raw)
            switch code {
            case SQLITE_DONE:
                return first
            case SQLITE_ROW:
                if first == nil { first = try StoreRow(raw) }
            default:
                throw failure(code, sql: sql)
            }
        }
    }

    /// GRDB's cached statement for `sql` on this connection (`cachedStatement(sql:)`), found
    /// without hashing the whole text: GRDB's cache is a dictionary keyed by the SQL, and
    /// hashing the store's statements (a few hundred bytes each, about twenty a request) cost
    /// 19,000 instructions a request (BENCHMARKS.md, "JSON read without JSONSerialization").
    /// This index holds GRDB's statements weakly: GRDB still owns and finalizes them (when it
    /// clears its cache or closes the connection, the entry reads as empty and is looked up
    /// again).
    /// - Throws: GRDB's `DatabaseError` when SQLite cannot prepare `sql`.
    func storeStatement(_ sql: String) throws -> Statement {
        let key = StoreStatementIndex.Key(connection: ObjectIdentifier(self), sql: sql)
        if let statement = StoreStatementIndex.entries.withLock({ $0[key]?.statement }) { return statement }
        let statement = try cachedStatement(sql: sql)
        StoreStatementIndex.entries.withLock { entries in
            // Connections come and go (GRDB may close idle readers): stale entries stay
            // bounded.
            if entries.count >= StoreStatementIndex.maxEntries { entries.removeAll() }
            entries[key] = StoreStatementIndex.Entry(statement: statement)
        }
        return statement
    }

    private func failure(_ code: Int32, sql: String) -> DatabaseError {
        let message = sqliteConnection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: sql)
    }
}

/// The index of ``GRDB/Database/storeStatement(_:)``: GRDB's statements by connection and SQL
/// text, held weakly.
private enum StoreStatementIndex {
    /// A statement's connection and text. Hashed by the text's length and its first and last
    /// eight bytes only (the store's statements differ there; a text whose bytes are not
    /// contiguous is hashed whole); equal only when the whole text is.
    struct Key: Hashable {
        let connection: ObjectIdentifier
        let sql: String

        func hash(into hasher: inout Hasher) {
            hasher.combine(connection)
            // The store's statements are native strings, whose bytes are contiguous.
            let words = sql.utf8.withContiguousStorageIfAvailable { utf8 -> (UInt64, UInt64) in
                guard utf8.count >= 8, let base = utf8.baseAddress else { return (UInt64(utf8.count), 0) }
                let raw = UnsafeRawPointer(base)
                return (
                    raw.loadUnaligned(as: UInt64.self) ^ UInt64(utf8.count),
                    raw.loadUnaligned(fromByteOffset: utf8.count - 8, as: UInt64.self))
            }
            if let (first, last) = words {
                hasher.combine(first)
                hasher.combine(last)
            } else {
                hasher.combine(sql)
            }
        }

        static func == (lhs: Key, rhs: Key) -> Bool {
            lhs.connection == rhs.connection && lhs.sql == rhs.sql
        }
    }

    /// A weak reference to a statement of GRDB's cache.
    final class Entry: @unchecked Sendable {
        weak var statement: Statement?

        init(statement: Statement) {
            self.statement = statement
        }
    }

    /// Entries kept before the index starts again (a few connections times the store's
    /// statements fit many times over).
    static let maxEntries = 1_024

    static let entries = Mutex<[Key: Entry]>([:])
}

import GRDB
import GRDBSQLite

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
        let statement = try cachedStatement(sql: sql)
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

    private func failure(_ code: Int32, sql: String) -> DatabaseError {
        let message = sqliteConnection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: sql)
    }
}

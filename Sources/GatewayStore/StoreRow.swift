import GRDB
import GRDBSQLite

/// The columns of one row a store statement gave, read before the next step: integers and
/// texts, `nil` for NULL.
struct StoreRow {
    private var columns: [Column] = []

    private enum Column {
        case integer(Int64)
        case text(String)
        case null
    }

    /// Reads the current row of `statement`.
    /// - Throws: `DatabaseError` `SQLITE_NOMEM` when SQLite cannot give a text it holds (a text
    ///   read as "" would pass for a stored value).
    init(_ statement: OpaquePointer) throws {
        let count = sqlite3_column_count(statement)
        columns.reserveCapacity(Int(count))
        for index in 0..<count {
            switch sqlite3_column_type(statement, index) {
            case SQLITE_NULL:
                columns.append(.null)
            case SQLITE_INTEGER:
                columns.append(.integer(sqlite3_column_int64(statement, index)))
            default:
                guard let bytes = sqlite3_column_text(statement, index) else {
                    throw DatabaseError(resultCode: .SQLITE_NOMEM, message: "a column's text could not be read")
                }
                let count = Int(sqlite3_column_bytes(statement, index))
                columns.append(.text(String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)))
            }
        }
    }

    /// Column `index` (0-based) as an integer; nil when NULL, a text or out of range.
    func integer(_ index: Int) -> Int64? {
        guard index < columns.count, case .integer(let value) = columns[index] else { return nil }
        return value
    }

    /// Column `index` (0-based) as a text; nil when NULL, an integer or out of range.
    func text(_ index: Int) -> String? {
        guard index < columns.count, case .text(let value) = columns[index] else { return nil }
        return value
    }
}

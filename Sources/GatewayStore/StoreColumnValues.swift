import Foundation

/// How both stores turn values into columns, one rule for both engines:
/// - times are BIGINT (SQLite INTEGER) milliseconds since the Unix epoch, the schema's one
///   unit for every `*_at`, `deadline` and `background_until` column;
/// - text holds no NUL character: PostgreSQL's `text` cannot (a bind with one fails with
///   SQLSTATE 22021) and SQLite's reads stop at it, so each NUL is stored as U+FFFD.
///   Upstream text such as a job's `fail_reason` may carry one.
protocol StoreColumnValues {}

extension StoreColumnValues {
    /// `date` as whole milliseconds since the Unix epoch (rounded to the nearest).
    static func millis(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// The date `milliseconds` after the Unix epoch.
    static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    /// `value` with each NUL character replaced by U+FFFD (unchanged, not copied, when it
    /// has none).
    static func text(_ value: String) -> String {
        hasNUL(value) ? value.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : value
    }

    /// Whether `value` holds a NUL character: `memchr` over a native string's UTF-8 (the
    /// generic `utf8.contains(0)` walked it byte by byte, 2 % of a request's instructions).
    static func hasNUL(_ value: String) -> Bool {
        value.utf8.withContiguousStorageIfAvailable { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return false }
            return memchr(base, 0, bytes.count) != nil
        } ?? value.utf8.contains(0)
    }

    /// ``text(_:)`` of an optional value.
    static func text(_ value: String?) -> String? {
        value.map(text)
    }
}

import Foundation
import GatewayStore

/// Where the store is, parsed from `store.url` (docs/ARCHITECTURE.md, "State and recovery"
/// and "Replicas").
public enum StoreLocation: Sendable, Equatable {
    /// An SQLite file, `sqlite:PATH`: absolute, or relative to the working directory.
    case sqlite(path: String)
    /// A PostgreSQL database, `postgres://USER@HOST:PORT/DATABASE?sslmode=...` (its password
    /// from the `store.password` or `store.passwordFile` setting).
    case postgres(PostgresStoreSettings)

    /// `url` safe to show in a log line or an error: a `user:password@` part is replaced by
    /// `<redacted>@`, and the whole is cut to 128 characters.
    public static func redacted(_ url: String) -> String {
        var shown = url
        if let scheme = shown.range(of: "://"), let at = shown[scheme.upperBound...].lastIndex(of: "@") {
            shown.replaceSubrange(scheme.upperBound..<at, with: "<redacted>")
        }
        return shown.count > 128 ? String(shown.prefix(128)) + "..." : shown
    }

    /// Parses `sqlite:PATH` (also `sqlite://PATH`) or a PostgreSQL URL
    /// (``PostgresStoreSettings/init(url:password:)``).
    /// - Parameter password: a PostgreSQL store's password, nil for none.
    /// - Throws: ``StoreError`` `.failed` saying what is wrong, never quoting a password: an
    ///   empty SQLite path or a folder, a bad PostgreSQL URL, another scheme.
    public static func parse(_ url: String, password: String? = nil) throws(StoreError) -> StoreLocation {
        if PostgresStoreSettings.isPostgresURL(url) {
            return .postgres(try PostgresStoreSettings(url: url, password: password))
        }
        guard url.hasPrefix("sqlite:") else {
            throw StoreError(
                .failed, "store.url: '\(redacted(url))' is neither sqlite:PATH nor postgres://USER@HOST:PORT/DATABASE")
        }
        var path = String(url.dropFirst("sqlite:".count))
        if path.hasPrefix("//") { path.removeFirst(2) }
        // A folder (`sqlite:///`, `sqlite:/var/lib/`) is no file name.
        guard !path.isEmpty, !path.hasSuffix("/"), !path.utf8.contains(0) else {
            throw StoreError(.failed, "store.url: '\(redacted(url))' names no file (sqlite:PATH)")
        }
        return .sqlite(path: path)
    }
}

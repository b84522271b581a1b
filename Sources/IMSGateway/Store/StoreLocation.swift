import Foundation

/// Where the store is, parsed from `store.url` (docs/ARCHITECTURE.md, "State and recovery").
public enum StoreLocation: Sendable, Equatable {
    /// An SQLite file, `sqlite:PATH`: absolute, or relative to the working directory.
    case sqlite(path: String)

    /// Parses `sqlite:PATH` (also `sqlite://PATH`); nil for anything else, including an empty
    /// path. A PostgreSQL URL is not accepted yet.
    /// `url` safe to show in a log line or an error: a `user:password@` part is replaced by
    /// `<redacted>@`, and the whole is cut to 128 characters.
    public static func redacted(_ url: String) -> String {
        var shown = url
        if let scheme = shown.range(of: "://"), let at = shown[scheme.upperBound...].lastIndex(of: "@") {
            shown.replaceSubrange(scheme.upperBound..<at, with: "<redacted>")
        }
        return shown.count > 128 ? String(shown.prefix(128)) + "..." : shown
    }

    public init?(url: String) {
        guard url.hasPrefix("sqlite:") else { return nil }
        var path = String(url.dropFirst("sqlite:".count))
        if path.hasPrefix("//") { path.removeFirst(2) }
        // A folder (`sqlite:///`, `sqlite:/var/lib/`) is no file name.
        guard !path.isEmpty, !path.hasSuffix("/"), !path.utf8.contains(0) else { return nil }
        self = .sqlite(path: path)
    }
}

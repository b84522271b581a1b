/// Where the store is, parsed from `store.url` (docs/ARCHITECTURE.md, "State and recovery").
public enum StoreLocation: Sendable, Equatable {
    /// An SQLite file, `sqlite:PATH`: absolute, or relative to the working directory.
    case sqlite(path: String)

    /// Parses `sqlite:PATH` (also `sqlite://PATH`); nil for anything else, including an empty
    /// path. A PostgreSQL URL is not accepted yet.
    public init?(url: String) {
        guard url.hasPrefix("sqlite:") else { return nil }
        var path = String(url.dropFirst("sqlite:".count))
        if path.hasPrefix("//") { path.removeFirst(2) }
        guard !path.isEmpty, !path.utf8.contains(0) else { return nil }
        self = .sqlite(path: path)
    }
}

/// A store operation that failed. Its description names the store (a file path, or a
/// database without its password) and never holds a secret or request data.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, coarsely (safe for a metric label through ``Kind/rawValue``).
    public enum Kind: String, Sendable {
        /// Another process holds the store (the SQLite lock file).
        case locked
        /// The file is not a database, or its schema is damaged.
        case corrupt
        /// The file or its folder cannot be created or written.
        case unwritable
        /// The store was migrated by a newer gateway that this one cannot work with.
        case incompatible
        /// The store cannot be reached (connection, I/O).
        case unavailable
        /// No such request.
        case notFound = "not_found"
        /// The request is leased to another replica now (it took the request over after this
        /// replica's lease expired, or it ended there): this replica must stop working on it.
        case leaseLost = "lease_lost"
        /// Any other failure of a statement.
        case failed
    }

    /// What went wrong.
    public var kind: Kind
    /// One line for an operator.
    public var message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

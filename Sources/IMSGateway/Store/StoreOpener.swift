import Foundation
import GatewayStore
import Logging
import ServiceLifecycle

/// The version of this gateway, recorded in the store it migrates (docs/ARCHITECTURE.md,
/// "State and recovery": a store records the oldest gateway version that can work on it).
public enum GatewayVersion {
    /// `MAJOR.MINOR.PATCH`.
    public static let current = "0.6.0"
}

/// Opens the store that `store.url` names.
public enum StoreOpener {
    /// Opens (creating it if needed) the SQLite store of `url`, takes its lock and, unless
    /// `migrate` is false, creates or upgrades its schema.
    /// - Parameter url: `sqlite:PATH`.
    /// - Throws: ``StoreError``: not an SQLite URL (`failed`), another process holds it
    ///   (`locked`), not a database (`corrupt`), cannot be written (`unwritable`), migrated by
    ///   a newer gateway (`incompatible`); each names the file.
    public static func open(url: String, migrate: Bool = true, logger: Logger) throws(StoreError) -> SQLiteGatewayStore {
        guard case .sqlite(let path) = try StoreLocation.parse(url) else {
            throw StoreError(.failed, "store.url '\(StoreLocation.redacted(url))' is not sqlite:PATH")
        }
        let store = try SQLiteGatewayStore(path: path, gatewayVersion: GatewayVersion.current, logger: logger)
        if migrate {
            try store.migrate()
        } else {
            try store.checkSchema()
        }
        return store
    }

    /// The store of `url`, opened but not migrated: an SQLite file is opened and locked; a
    /// PostgreSQL store gets its connection pool, which connects once ``OpenedStore/service``
    /// runs.
    /// - Parameters:
    ///   - url: `sqlite:PATH` or `postgres://USER@HOST:PORT/DATABASE?sslmode=...`.
    ///   - password: a PostgreSQL role's password, nil for none.
    ///   - replicaID: this process's replica id (``ReplicaID/make()``), the owner of the
    ///     requests it runs on a PostgreSQL store.
    ///   - leaseSeconds: `store.leaseSeconds`, how long its leases last on a PostgreSQL store.
    /// - Throws: ``StoreError`` as ``open(url:migrate:logger:)`` and ``StoreLocation/parse(_:password:)``.
    public static func prepare(
        url: String, password: String? = nil, replicaID: String = ReplicaID.make(), leaseSeconds: Int = 30,
        logger: Logger
    ) throws(StoreError) -> OpenedStore {
        switch try StoreLocation.parse(url, password: password) {
        case .sqlite(let path):
            return .sqlite(try SQLiteGatewayStore(path: path, gatewayVersion: GatewayVersion.current, logger: logger))
        case .postgres(let settings):
            return .postgres(
                try PostgresGatewayStore(
                    settings: settings, gatewayVersion: GatewayVersion.current, replicaID: replicaID,
                    leaseMs: leaseSeconds * 1000, logger: logger))
        }
    }
}

/// A store made from `store.url` by ``StoreOpener/prepare(url:password:logger:)``, with what
/// each engine needs around it.
public enum OpenedStore: Sendable {
    /// An SQLite file, opened and locked.
    case sqlite(SQLiteGatewayStore)
    /// A PostgreSQL database; its pool (``service``) must run before any call.
    case postgres(PostgresGatewayStore)

    /// The store the gateway works on.
    public var store: any GatewayStore {
        switch self {
        case .sqlite(let store): store
        case .postgres(let store): store
        }
    }

    /// What must run, first in the service group and so stopped last, for the store to work:
    /// the PostgreSQL connection pool; nil for SQLite.
    public var service: (any Service)? {
        switch self {
        case .sqlite: nil
        case .postgres(let store): store
        }
    }

    /// The store as logs and errors name it (a file path, or a URL without password).
    public var name: String {
        switch self {
        case .sqlite(let store): store.path
        case .postgres(let store): store.description
        }
    }

    /// Creates or upgrades the schema (``SQLiteGatewayStore/migrate()``,
    /// ``PostgresGatewayStore/migrate()``).
    /// - Throws: ``StoreError`` `.incompatible` for a store of a newer gateway; another kind
    ///   when a step fails or the store cannot be reached.
    public func migrate() async throws(StoreError) {
        switch self {
        case .sqlite(let store): try store.migrate()
        case .postgres(let store): try await store.migrate()
        }
    }

    /// Checks the schema without changing it.
    /// - Throws: ``StoreError`` `.incompatible` when not migrated to this gateway's schema.
    public func checkSchema() async throws(StoreError) {
        switch self {
        case .sqlite(let store): try store.checkSchema()
        case .postgres(let store): try await store.checkSchema()
        }
    }

    /// Closes an SQLite store (checkpoint, then the lock is released); nothing for a
    /// PostgreSQL store (its pool ends with its service).
    public func close() async {
        if case .sqlite(let store) = self { try? store.close() }
    }
}

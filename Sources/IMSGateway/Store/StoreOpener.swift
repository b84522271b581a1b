import Foundation
import GatewayStore
import Logging

/// The version of this gateway, recorded in the store it migrates (docs/ARCHITECTURE.md,
/// "State and recovery": a store records the oldest gateway version that can work on it).
public enum GatewayVersion {
    /// `MAJOR.MINOR.PATCH`.
    public static let current = "0.5.0"
}

/// Opens the store that `store.url` names.
public enum StoreOpener {
    /// Opens (creating it if needed) the SQLite store of `url`, takes its lock and, unless
    /// `migrate` is false, creates or upgrades its schema.
    /// - Parameter url: `sqlite:PATH`.
    /// - Throws: ``StoreError``: another process holds it (`locked`), not a database
    ///   (`corrupt`), cannot be written (`unwritable`), migrated by a newer gateway
    ///   (`incompatible`); each names the file.
    public static func open(url: String, migrate: Bool = true, logger: Logger) throws(StoreError) -> SQLiteGatewayStore {
        guard case .sqlite(let path) = StoreLocation(url: url) else {
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
}

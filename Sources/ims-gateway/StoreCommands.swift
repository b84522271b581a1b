import ArgumentParser
import Foundation
import GatewayStore
import IMSGateway
import Logging
import ServiceLifecycle

/// The store a store command works on: `--store-url`, else `IMSGW_STORE_URL`, else the
/// default `sqlite:ims-gateway.sqlite` (serve's own rule, without the other settings); a
/// PostgreSQL store's password from `IMSGW_STORE_PASSWORD_FILE` or `IMSGW_STORE_PASSWORD`.
struct StoreURLOption: ParsableArguments {
    @Option(
        name: .customLong("store-url"),
        help: "The store, sqlite:PATH or postgres://USER@HOST:PORT/DATABASE (default: IMSGW_STORE_URL, else sqlite:ims-gateway.sqlite).")
    var storeURL: String?

    var resolved: String {
        storeURL ?? ProcessInfo.processInfo.environment["IMSGW_STORE_URL"] ?? GatewayConfiguration.defaultStoreURL
    }

    /// The store, opened (SQLite) or with its pool made (PostgreSQL), not migrated.
    /// - Throws: ``StoreError`` for a bad URL, an unreadable password file or a store that
    ///   cannot be opened.
    func prepare(logger: Logger) throws(StoreError) -> OpenedStore {
        let password = try PostgresStoreSettings.password(environment: ProcessInfo.processInfo.environment)
        return try StoreOpener.prepare(url: resolved, password: password, logger: logger)
    }
}

/// `ims-gateway migrate`: creates or upgrades the store's schema and exits (serve also does it
/// at start). Exit status 74 when the store cannot be opened or migrated.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the store's schema, then exit.",
        discussion: """
            Opens the store (taking its lock: stop serve first, or let serve migrate at start), \
            applies the migrations it lacks and prints the schema version. A store migrated by a \
            newer gateway than this one is refused with one line naming both versions (exit 74).
            """)

    @OptionGroup var store: StoreURLOption

    func run() async throws {
        let logger = Logger(label: "ims-gateway")
        let opened: OpenedStore
        do {
            opened = try store.prepare(logger: logger)
        } catch {
            throw CommandFailure.store("\(error)").exit()
        }
        // A PostgreSQL store's pool runs while the migration does, and is closed (its task
        // awaited) before the command exits.
        let pool = opened.service.map { service in Task { try await service.run() } }
        let failure: StoreError?
        do {
            try await opened.migrate()
            failure = nil
        } catch {
            failure = error
        }
        await opened.close()
        pool?.cancel()
        _ = await pool?.result
        if let failure { throw CommandFailure.store("\(failure)").exit() }
        print(
            "store \(opened.name): schema version \(StoreSchema.version), "
                + "usable by gateway \(StoreSchema.minimumGatewayVersion) and later (this is gateway \(GatewayVersion.current))")
    }
}

/// `ims-gateway backup FILE`: an online copy of the store, safe while serve runs.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the store to FILE while the gateway runs (SQLite's online backup).",
        discussion: """
            FILE must not exist. To restore: stop the gateway, replace the store file with the copy \
            (and delete the store's -wal and -shm files), start the gateway: it resumes the requests \
            the copy holds as running. Exit status 74 when the copy cannot be made.
            """)

    @OptionGroup var store: StoreURLOption
    @Argument(help: "Where to write the copy (a new file).") var file: String

    func run() async throws {
        let location: StoreLocation
        do {
            location = try StoreLocation.parse(store.resolved)
        } catch {
            throw CommandFailure.configuration("\(error)").exit()
        }
        guard case .sqlite(let path) = location else {
            throw CommandFailure.configuration(
                "store.url \(StoreLocation.redacted(store.resolved)) is a PostgreSQL store: back it up with "
                    + "pg_dump (or the database service's own backups); ims-gateway backup copies an SQLite file").exit()
        }
        do {
            try SQLiteGatewayStore.backup(storeAt: path, to: file)
            print("store \(path) copied to \(file)")
        } catch {
            throw CommandFailure.store("\(error)").exit()
        }
    }
}

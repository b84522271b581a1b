import ArgumentParser
import Foundation
import GatewayStore
import IMSGateway
import Logging

/// The store a store command works on: `--store-url`, else `IMSGW_STORE_URL`, else the
/// default `sqlite:ims-gateway.sqlite` (serve's own rule, without the other settings).
struct StoreURLOption: ParsableArguments {
    @Option(name: .customLong("store-url"), help: "The store, sqlite:PATH (default: IMSGW_STORE_URL, else sqlite:ims-gateway.sqlite).")
    var storeURL: String?

    var resolved: String {
        storeURL ?? ProcessInfo.processInfo.environment["IMSGW_STORE_URL"] ?? GatewayConfiguration.defaultStoreURL
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
        guard StoreLocation(url: store.resolved) != nil else {
            throw CommandFailure.configuration("store.url '\(StoreLocation.redacted(store.resolved))' is not sqlite:PATH").exit()
        }
        do {
            let opened = try StoreOpener.open(url: store.resolved, logger: logger)
            print(
                "store \(StoreLocation.redacted(store.resolved)): schema version \(SQLiteGatewayStore.schemaVersion), "
                    + "usable by gateway \(SQLiteGatewayStore.minimumGatewayVersion) and later (this is gateway \(GatewayVersion.current))")
            try opened.close()
        } catch {
            throw CommandFailure.store("\(error)").exit()
        }
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
        guard case .sqlite(let path) = StoreLocation(url: store.resolved) else {
            throw CommandFailure.configuration("store.url '\(StoreLocation.redacted(store.resolved))' is not sqlite:PATH").exit()
        }
        do {
            try SQLiteGatewayStore.backup(storeAt: path, to: file)
            print("store \(path) copied to \(file)")
        } catch {
            throw CommandFailure.store("\(error)").exit()
        }
    }
}

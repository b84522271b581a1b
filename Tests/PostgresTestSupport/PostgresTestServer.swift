import Foundation
import GatewayStore
import Logging
import PostgresNIO

/// The PostgreSQL server of the tests, from the environment (CI starts one with
/// scripts/postgres-cluster.sh): shared by the store's tests and the gateway's replica tests.
public enum PostgresTestServer {
    /// `POSTGRES_TEST_URL`: a role that may create databases, e.g.
    /// `postgres://postgres@127.0.0.1:5432/postgres`.
    public static let url = ProcessInfo.processInfo.environment["POSTGRES_TEST_URL"].flatMap { $0.isEmpty ? nil : $0 }
    /// `POSTGRES_TEST_REQUIRED=1`: the PostgreSQL tests must run.
    public static let required = ProcessInfo.processInfo.environment["POSTGRES_TEST_REQUIRED"] == "1"
    /// Whether the PostgreSQL suites run: with a URL, or when required (then, without one,
    /// they fail on ``NotConfigured`` instead of being skipped).
    public static var runs: Bool { url != nil || required }

    static let logger = Logger(label: "PostgresTestServer")

    /// No `POSTGRES_TEST_URL`.
    public struct NotConfigured: Error, CustomStringConvertible {
        public var description: String { "POSTGRES_TEST_URL is not set" }
    }

    /// The server's settings (password from `IMSGW_STORE_PASSWORD`, as the gateway reads it).
    /// - Throws: ``NotConfigured`` without a URL; ``StoreError`` for a bad one.
    public static func settings(database: String? = nil) throws -> PostgresStoreSettings {
        guard let url else { throw NotConfigured() }
        var settings = try PostgresStoreSettings(
            url: url, password: try PostgresStoreSettings.password(environment: ProcessInfo.processInfo.environment))
        if let database { settings.database = database }
        return settings
    }

    /// The `store.url` of `database` on the server (no password: the gateway reads it from
    /// `IMSGW_STORE_PASSWORD`).
    public static func storeURL(database: String) throws -> String {
        let settings = try settings(database: database)
        return "postgres://\(settings.username)@\(settings.host):\(settings.port)/\(database)?sslmode=disable"
    }

    /// Creates a new empty database and returns its name.
    public static func createDatabase() async throws -> String {
        let name = "imsgw_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await admin("CREATE DATABASE \(name)")
        return name
    }

    /// Drops a database made by ``createDatabase()``, closing its connections.
    public static func dropDatabase(_ name: String) async throws {
        try await admin("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Runs one statement on the URL's own database.
    public static func admin(_ sql: String) async throws {
        try await withConnection(database: nil) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }

    /// Runs `body` on a new connection to `database` (nil: the URL's), closed afterwards.
    public static func withConnection<T: Sendable>(
        database: String?, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let settings = try settings(database: database)
        let connection = try await PostgresConnection.connect(
            configuration: .init(
                host: settings.host, port: settings.port, username: settings.username, password: settings.password,
                database: settings.database, tls: .disable),
            id: 1, logger: logger)
        do {
            let value = try await body(connection)
            try await connection.close()
            return value
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

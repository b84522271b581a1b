import Foundation

/// Where a PostgreSQL store is and how to reach it, parsed from
/// `store.url=postgres://USER@HOST:PORT/DATABASE?sslmode=MODE&sslrootcert=FILE`
/// (libpq's URL form and TLS parameter names; docs/ARCHITECTURE.md, "Replicas").
///
/// The password never comes from the URL (a URL ends up in config files, process lists and
/// logs): the gateway reads it from the `store.password` setting (environment only,
/// `IMSGW_STORE_PASSWORD`) or the file `store.passwordFile` names (``password(environment:)``
/// for the commands that read no settings). ``description`` never shows it.
public struct PostgresStoreSettings: Sendable, Equatable, CustomStringConvertible {
    /// How the connection is encrypted, libpq's `sslmode` values.
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, no certificate check (libpq's default).
        case prefer
        /// TLS or no connection, no certificate check.
        case require
        /// TLS, the certificate checked against the trusted roots, not the host name.
        case verifyCA = "verify-ca"
        /// TLS, the certificate checked against the trusted roots and the host name (the
        /// setting for a managed database reached over a network).
        case verifyFull = "verify-full"
    }

    /// The server's host name or address.
    public var host: String
    /// The server's TCP port (default 5432).
    public var port: Int
    /// The role the gateway logs in as.
    public var username: String
    /// The database (default: the user name, as libpq does).
    public var database: String
    /// The password, nil for none (trust or peer authentication).
    public var password: String?
    /// TLS mode (`sslmode`, default `prefer`).
    public var tlsMode: TLSMode
    /// A PEM file of the roots to trust (`sslrootcert`); nil: the system's.
    public var rootCertificatePath: String?

    /// Settings with every part given.
    public init(
        host: String, port: Int = 5432, username: String, database: String? = nil, password: String? = nil,
        tlsMode: TLSMode = .prefer, rootCertificatePath: String? = nil
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.database = database ?? username
        self.password = password
        self.tlsMode = tlsMode
        self.rootCertificatePath = rootCertificatePath
    }

    /// Whether `url` is meant as a PostgreSQL store (`postgres://` or `postgresql://`).
    public static func isPostgresURL(_ url: String) -> Bool {
        url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")
    }

    /// Parses a `postgres://` (or `postgresql://`) URL.
    /// - Parameters:
    ///   - url: `postgres://USER@HOST[:PORT][/DATABASE][?sslmode=MODE&sslrootcert=FILE]`;
    ///     percent-escapes are decoded in the user and database; an IPv6 host is in brackets.
    ///   - password: the role's password, nil for none.
    /// - Throws: ``StoreError`` `.failed` naming what is wrong (never a password): not a
    ///   PostgreSQL URL, no user or host, a bad port, a password in the URL, an unknown query
    ///   parameter or `sslmode`.
    public init(url: String, password: String?) throws(StoreError) {
        guard Self.isPostgresURL(url), let components = URLComponents(string: url) else {
            throw Self.invalid("is not postgres://USER@HOST:PORT/DATABASE")
        }
        if components.password != nil {
            throw Self.invalid(
                "holds a password; give it as the store.password setting (IMSGW_STORE_PASSWORD) or in the file "
                    + "store.passwordFile names instead")
        }
        guard let user = components.user, !user.isEmpty else {
            throw Self.invalid("names no user (postgres://USER@HOST/DATABASE)")
        }
        guard var host = components.host, !host.isEmpty else {
            throw Self.invalid("names no host")
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = components.port ?? 5432
        guard (1...65_535).contains(port) else { throw Self.invalid("has port \(port), not 1 to 65535") }
        var path = components.path
        if path.hasPrefix("/") { path.removeFirst() }
        guard !path.contains("/") else { throw Self.invalid("has a path that is not one database name") }
        let database = path.isEmpty ? user : path
        var tlsMode = TLSMode.prefer
        var rootCertificatePath: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: item.value ?? "") else {
                    throw Self.invalid(
                        "has sslmode '\(item.value ?? "")', not one of "
                            + TLSMode.allCases.map(\.rawValue).joined(separator: ", "))
                }
                tlsMode = mode
            case "sslrootcert":
                guard let file = item.value, !file.isEmpty else { throw Self.invalid("has an empty sslrootcert") }
                rootCertificatePath = file
            default:
                throw Self.invalid("has the parameter '\(item.name)'; only sslmode and sslrootcert are read")
            }
        }
        self.init(
            host: host, port: port, username: user, database: database,
            password: password, tlsMode: tlsMode,
            rootCertificatePath: rootCertificatePath)
    }

    /// The password as the gateway's settings give it, read straight from `environment`:
    /// the text of the file `IMSGW_STORE_PASSWORD_FILE` names (a file wins over the variable;
    /// surrounding white space dropped), else `IMSGW_STORE_PASSWORD`, else nil. For the
    /// commands that read no other setting.
    /// - Throws: ``StoreError`` `.failed` when the file cannot be read or is empty.
    public static func password(environment: [String: String]) throws(StoreError) -> String? {
        if let file = environment["IMSGW_STORE_PASSWORD_FILE"] {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw StoreError(.failed, "IMSGW_STORE_PASSWORD_FILE: cannot read the file \(file)")
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw StoreError(.failed, "IMSGW_STORE_PASSWORD_FILE: the file \(file) is empty") }
            return text
        }
        return environment["IMSGW_STORE_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The store as logs and errors name it: `postgres://USER@HOST:PORT/DATABASE`, no password.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(username)@\(shownHost):\(port)/\(database)"
    }

    private static func invalid(_ what: String) -> StoreError {
        StoreError(.failed, "store.url: the PostgreSQL URL \(what)")
    }
}

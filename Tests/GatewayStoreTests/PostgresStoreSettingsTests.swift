import Foundation
import GatewayStore
import Testing

@Suite("PostgreSQL store: store.url and the password")
struct PostgresStoreSettingsTests {
    @Test("a full URL gives host, port, user, database and TLS; the description has no password")
    func full() throws {
        let settings = try PostgresStoreSettings(
            url: "postgres://gw%40ims@db.example.com:6432/ims_gateway?sslmode=verify-full&sslrootcert=/etc/ca.pem",
            password: "s3cr3t")
        #expect(
            settings
                == PostgresStoreSettings(
                    host: "db.example.com", port: 6432, username: "gw@ims", database: "ims_gateway", password: "s3cr3t",
                    tlsMode: .verifyFull, rootCertificatePath: "/etc/ca.pem"))
        #expect(settings.description == "postgres://gw@ims@db.example.com:6432/ims_gateway")
        #expect(!settings.description.contains("s3cr3t"))
    }

    @Test("percent-escapes in the user are decoded once: %2525 is the two characters %25")
    func decodedOnce() throws {
        let settings = try PostgresStoreSettings(url: "postgres://a%2525b@db/x", password: nil)
        #expect(settings.username == "a%25b")
    }

    @Test("defaults: port 5432, the database named as the user, sslmode prefer, no password")
    func defaults() throws {
        let settings = try PostgresStoreSettings(url: "postgresql://gateway@10.0.0.5", password: nil)
        #expect(settings == PostgresStoreSettings(host: "10.0.0.5", username: "gateway"))
        #expect(settings.database == "gateway")
        #expect(settings.tlsMode == .prefer)
        let v6 = try PostgresStoreSettings(url: "postgres://gateway@[::1]:5433/db", password: nil)
        #expect(v6.host == "::1")
        #expect(v6.description == "postgres://gateway@[::1]:5433/db")
    }

    @Test("commands read the password from IMSGW_STORE_PASSWORD_FILE (white space dropped; it wins) or IMSGW_STORE_PASSWORD")
    func passwordFile() throws {
        let folder = try TemporaryFolder()
        let file = folder.file("password")
        try Data(" from file \n\n".utf8).write(to: URL(fileURLWithPath: file))
        #expect(try PostgresStoreSettings.password(environment: ["IMSGW_STORE_PASSWORD_FILE": file]) == "from file")
        #expect(try PostgresStoreSettings.password(environment: ["IMSGW_STORE_PASSWORD": "direct"]) == "direct")
        #expect(try PostgresStoreSettings.password(environment: [:]) == nil)
        let missing = try #require(throws: StoreError.self) {
            try PostgresStoreSettings.password(environment: ["IMSGW_STORE_PASSWORD_FILE": file + "-no"])
        }
        #expect(missing.message.contains("IMSGW_STORE_PASSWORD_FILE"))
        #expect(
            try PostgresStoreSettings.password(environment: ["IMSGW_STORE_PASSWORD": "a", "IMSGW_STORE_PASSWORD_FILE": file])
                == "from file")
    }

    @Test("bad URLs are refused with what is wrong, never echoing a password", arguments: [
        ("postgres://u:hunter2@h/d", "holds a password"),
        ("postgres://h/d", "names no user"),
        ("postgres://u@/d", "names no host"),
        ("postgres://u@h:0/d", "port 0"),
        ("postgres://u@h/d/e", "one database name"),
        ("postgres://u@h/d?sslmode=always", "sslmode 'always'"),
        ("postgres://u@h/d?sslrootcert=", "empty sslrootcert"),
        ("postgres://u@h/d?password=hunter2", "the parameter 'password'"),
        ("mysql://u@h/d", "is not postgres://"),
    ])
    func refused(url: String, reason: String) throws {
        let error = try #require(throws: StoreError.self) { try PostgresStoreSettings(url: url, password: nil) }
        #expect(error.kind == .failed)
        #expect(error.message.contains(reason), "\(error.message)")
        #expect(!error.message.contains("hunter2"))
    }
}

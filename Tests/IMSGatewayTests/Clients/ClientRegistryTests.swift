import Foundation
import Testing

@testable import IMSGateway

@Suite("ClientRegistry")
struct ClientRegistryTests {
    typealias Fixture = ClientsFixture

    static func load(_ directory: ClientsFileDirectory, _ text: String, name: String = "clients.yaml") throws -> ClientRegistry {
        let path = try directory.write(text, to: name)
        return try ClientRegistry.load(path: path, defaultRateLimit: Fixture.defaultLimit)
    }

    static func file(name: String = "portal", keys: [String], projects: String = #"["*"]"#) -> String {
        """
        clients:
          - name: \(name)
            key_sha256: [\(keys.map(ClientKey.sha256Hex).joined(separator: ", "))]
            projects: \(projects)
        """
    }

    // MARK: Authentication

    @Test func rightKeyGivesTheClient() throws {
        let directory = try ClientsFileDirectory()
        let registry = try Self.load(directory, Fixture.yaml)
        #expect(registry.clientCount == 2)
        #expect(registry.path == directory.url.appendingPathComponent("clients.yaml").path)
        let portal = try #require(registry.authenticate(bearerKey: Fixture.portalKey))
        #expect(portal.name == "portal")
        #expect(portal.rateLimit == ClientRateLimit(rate: 0.5, burst: 3))
        #expect(registry.authenticate(bearerKey: Fixture.ciKey)?.name == "ci")
        // The second hash of `ci` is SHA-256("password").
        #expect(registry.authenticate(bearerKey: "password")?.name == "ci")
    }

    @Test(arguments: ["", "portal-key-012345678", "portal-key-0123456789 ", "PORTAL-KEY-0123456789",
                      ClientsFixture.passwordHash])
    func wrongKeyGivesNothing(_ key: String) throws {
        let directory = try ClientsFileDirectory()
        let registry = try Self.load(directory, Fixture.yaml)
        #expect(registry.authenticate(bearerKey: key) == nil)
    }

    @Test func rotatedKeysBothWorkUntilTheOldIsRemoved() throws {
        let directory = try ClientsFileDirectory()
        let oldKey = ClientKey.generate()
        let newKey = ClientKey.generate()
        let registry = try Self.load(directory, Self.file(keys: [oldKey, newKey]))
        #expect(registry.authenticate(bearerKey: oldKey)?.name == "portal")
        #expect(registry.authenticate(bearerKey: newKey)?.name == "portal")

        try directory.write(Self.file(keys: [newKey]))
        #expect(try registry.reload() == 1)
        #expect(registry.authenticate(bearerKey: oldKey) == nil)
        #expect(registry.authenticate(bearerKey: newKey)?.name == "portal")
    }

    @Test func reloadPicksUpNewClientsAndScopes() throws {
        let directory = try ClientsFileDirectory()
        let registry = try Self.load(directory, Self.file(keys: [Fixture.portalKey], projects: "[\(Fixture.project)]"))
        #expect(registry.authenticate(bearerKey: Fixture.portalKey)?.allows(projectID: Fixture.otherProject) == false)
        try directory.write(Fixture.yaml.replacingOccurrences(of: "EDC89B490D7D4392898E19B2DEB34797", with: Fixture.otherProject))
        #expect(try registry.reload() == 2)
        #expect(registry.clientCount == 2)
        #expect(registry.authenticate(bearerKey: Fixture.portalKey)?.allows(projectID: Fixture.otherProject) == true)
        #expect(registry.authenticate(bearerKey: Fixture.ciKey)?.name == "ci")
    }

    @Test func reloadKeepsTheClientsWhenTheNewFileIsBroken() throws {
        let directory = try ClientsFileDirectory()
        let registry = try Self.load(directory, Fixture.yaml)
        let path = try directory.write(Fixture.yaml.replacingOccurrences(of: "projects:", with: "projetcs:"))
        #expect(throws: ClientsFileError.self) { try registry.reload() }
        do {
            try registry.reload()
        } catch {
            #expect(error.problems.first == #"\#(path): clients[0] (name "portal"): unknown key "projetcs""#)
        }
        #expect(registry.clientCount == 2)
        #expect(registry.authenticate(bearerKey: Fixture.portalKey)?.name == "portal")

        try directory.write("clients: [\n")
        #expect(throws: ClientsFileError.self) { try registry.reload() }
        try FileManager.default.removeItem(atPath: path)
        #expect(throws: ClientsFileError(path: path, problems: ["\(path): the file does not exist"])) { try registry.reload() }
        #expect(registry.clientCount == 2)
        #expect(registry.authenticate(bearerKey: Fixture.ciKey)?.name == "ci")
    }

    @Test func typoIsRefusedAtLoad() throws {
        let directory = try ClientsFileDirectory()
        let text = Self.file(keys: [Fixture.portalKey]).replacingOccurrences(of: "projects:", with: "projetcs:")
        #expect(throws: ClientsFileError.self) { try Self.load(directory, text) }
    }

    @Test func jsonFileLoadsAndReloads() throws {
        let directory = try ClientsFileDirectory()
        let json = #"{"clients": [{"name": "portal", "key_sha256": ["\#(ClientsFixture.passwordHash)"], "projects": ["*"]}]}"#
        let registry = try Self.load(directory, json, name: "clients.json")
        #expect(registry.authenticate(bearerKey: "password")?.name == "portal")
        #expect(try registry.reload() == 1)
    }

    @Test func inMemoryRegistry() throws {
        let entry = ClientEntry(
            identity: ClientIdentity(name: "demo", projects: .only([Fixture.project]), rateLimit: Fixture.defaultLimit),
            keys: ["demo-key-0123456789"])
        let registry = ClientRegistry(entries: [entry])
        #expect(registry.path == nil)
        #expect(registry.clientCount == 1)
        #expect(try registry.reload() == 1)
        #expect(registry.authenticate(bearerKey: "demo-key-0123456789") == entry.identity)
        #expect(registry.authenticate(bearerKey: "demo-key-012345678") == nil)
        #expect(ClientRegistry(entries: []).authenticate(bearerKey: "") == nil)
    }

    @Test func requestsDuringReloadsAlwaysAuthenticate() async throws {
        let directory = try ClientsFileDirectory()
        let registry = try Self.load(directory, Self.file(keys: [Fixture.portalKey]))
        let other = Self.file(keys: [Fixture.portalKey, Fixture.ciKey])
        let one = Self.file(keys: [Fixture.portalKey])
        let failures = await withTaskGroup(of: Int.self) { group in
            group.addTask {
                for round in 0..<50 {
                    _ = try? directory.write(round.isMultiple(of: 2) ? other : one)
                    _ = try? registry.reload()
                }
                return 0
            }
            for _ in 0..<4 {
                group.addTask {
                    (0..<2_000).reduce(0) { count, _ in
                        count + (registry.authenticate(bearerKey: Fixture.portalKey) == nil ? 1 : 0)
                    }
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
    }

    // MARK: Project scope

    @Test func starAllowsEveryProject() {
        let identity = ClientIdentity(name: "ci", projects: .all, rateLimit: Fixture.defaultLimit)
        #expect(identity.allows(projectID: Fixture.project))
        #expect(identity.allows(projectID: Fixture.otherProject))
    }

    @Test func listAllowsOnlyItsProjects() throws {
        let directory = try ClientsFileDirectory()
        let registry = try Self.load(directory, Fixture.yaml)
        let portal = try #require(registry.authenticate(bearerKey: Fixture.portalKey))
        // The file gives the project in upper case; callers' project_ids arrive normalised to lower case.
        #expect(portal.allows(projectID: Fixture.project))
        #expect(!portal.allows(projectID: Fixture.otherProject))
        #expect(registry.authenticate(bearerKey: Fixture.ciKey)?.projects == .all)
    }

    // MARK: ClientKey

    @Test func generatedKeyFormat() throws {
        let key = ClientKey.generate()
        #expect(key.hasPrefix("imsgw_"))
        #expect(key.count == 6 + 43)
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        #expect(key.dropFirst(6).allSatisfy(allowed.contains))
        #expect(try ClientKey.validate(key) == key)
        // base64url of 32 bytes: the last character carries 4 bits and 2 zero bits of padding.
        var base64 = key.dropFirst(6).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += "="
        #expect(Data(base64Encoded: base64)?.count == 32)
    }

    @Test func generatedKeysDiffer() {
        let keys = Set((0..<1_000).map { _ in ClientKey.generate() })
        #expect(keys.count == 1_000)
    }

    @Test func sha256HexKnownVector() {
        #expect(ClientKey.sha256Hex("password") == ClientsFixture.passwordHash)
        #expect(ClientKey.sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func validateTrimsSurroundingWhiteSpace() throws {
        #expect(try ClientKey.validate("  mysecretkey-0123456789\n") == "mysecretkey-0123456789")
        #expect(try ClientKey.validate(String(repeating: "k", count: 16)) == String(repeating: "k", count: 16))
        #expect(try ClientKey.validate(String(repeating: "k", count: 512)).count == 512)
    }

    @Test(arguments: [
        ("", ClientKeyError.empty),
        (" \n", .empty),
        ("short-key-01234", .tooShort(length: 15)),
        (String(repeating: "k", count: 513), .tooLong(length: 513)),
        ("my secret key 0123456789", .containsWhitespace),
        ("my-secret-key\t0123456789", .containsWhitespace),
        ("my-secret-key-0123456789-é", .notPrintableASCII),
        ("my-secret-key-0123456789-\u{7F}", .notPrintableASCII),
        ("my-secret-key-\u{01}0123456789", .notPrintableASCII),
    ])
    func validateRefuses(_ key: String, expected: ClientKeyError) {
        #expect(throws: expected) { try ClientKey.validate(key) }
    }

    @Test func keyErrorsNeverHoldTheKey() {
        let keys = ["my secret key 0123456789", "my-secret-key-0123456789-é", "sekrit-012345", String(repeating: "q", count: 600)]
        for key in keys {
            do {
                try ClientKey.validate(key)
                Issue.record("accepted \(key.count) characters")
            } catch {
                #expect(!error.description.contains(key.trimmingCharacters(in: .whitespaces)))
                #expect(!error.description.contains("secret"))
                #expect(!error.description.contains("sekrit"))
                #expect(!error.description.contains("qqqq"))
            }
        }
    }

    @Test func authenticationLeavesNoTraceOfTheKey() throws {
        let directory = try ClientsFileDirectory()
        let registry = try Self.load(directory, Fixture.yaml)
        let wrongKey = "wrong-key-0123456789-abcdef"
        #expect(registry.authenticate(bearerKey: wrongKey) == nil)
        let identity = try #require(registry.authenticate(bearerKey: Fixture.portalKey))
        #expect(!String(describing: identity).contains(Fixture.portalKey))
        #expect(!String(reflecting: identity).contains(Fixture.portalKey))
        // A reload error after keys were tried names fields only.
        try directory.write(Fixture.yaml + "\n    projetcs: []\n")
        do {
            try registry.reload()
            Issue.record("reload accepted a typo")
        } catch {
            for key in [wrongKey, Fixture.portalKey, Fixture.ciKey] { #expect(!error.description.contains(key)) }
        }
    }
}

import Foundation
import IMSClient
import Testing

@testable import IMSGateway

/// A directory of its own under the system's temporary directory, removed when released.
final class ClientsFileDirectory: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("imsgw-clients-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `text` to `name` in the directory and returns the file's path.
    @discardableResult
    func write(_ text: String, to name: String = "clients.yaml") throws -> String {
        let file = url.appendingPathComponent(name)
        try Data(text.utf8).write(to: file)
        return file.path
    }
}

/// Fixed values for clients files.
enum ClientsFixture {
    /// SHA-256("password"), the usual test vector.
    static let passwordHash = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
    static let portalKey = "portal-key-0123456789"
    static let ciKey = "ci-key-0123456789abcdef"
    static let project = "edc89b490d7d4392898e19b2deb34797"
    static let otherProject = "0123456789abcdef0123456789abcdef"
    static let defaultLimit = ClientRateLimit(rate: 5, burst: 10)

    /// A valid YAML file: `portal` (one project, its own rate limit) and `ci` (every project).
    static var yaml: String {
        """
        # clients of the gateway
        clients:
          - name: portal
            key_sha256:
              - \(ClientKey.sha256Hex(portalKey))
            projects: ["EDC89B490D7D4392898E19B2DEB34797"]
            rate_limit: {rate: 0.5, burst: 3}
          - name: ci
            key_sha256: [\(ClientKey.sha256Hex(ciKey).uppercased()), \(passwordHash)]
            projects: ["*"]
        """
    }
}

@Suite("ClientsFile")
struct ClientsFileTests {
    typealias Fixture = ClientsFixture

    /// Loads `text` from a fresh file and returns the problems (empty when it loads).
    static func problems(_ text: String, name: String = "clients.yaml") throws -> (path: String, problems: [String]) {
        let directory = try ClientsFileDirectory()
        let path = try directory.write(text, to: name)
        do {
            _ = try ClientsFile.load(path: path, defaultRateLimit: Fixture.defaultLimit)
            return (path, [])
        } catch {
            #expect(error.path == path)
            return (path, error.problems)
        }
    }

    /// A file with one client `name: a` whose other members are `members` (YAML lines, indented by 4).
    static func oneClient(_ members: String) -> String {
        "clients:\n  - name: a\n" + members.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n"
    }

    static let validMembers = """
        key_sha256: [\(ClientsFixture.passwordHash)]
        projects: ["\(ClientsFixture.project)"]
        """

    // MARK: Valid files

    @Test func loadsYAML() throws {
        let directory = try ClientsFileDirectory()
        let path = try directory.write(Fixture.yaml)
        let entries = try ClientsFile.load(path: path, defaultRateLimit: Fixture.defaultLimit)
        #expect(entries.count == 2)
        #expect(entries[0].identity == ClientIdentity(
            name: "portal", projects: .only([Fixture.project]), rateLimit: ClientRateLimit(rate: 0.5, burst: 3)))
        #expect(entries[0].keySHA256 == [Data(ClientKey.sha256(Fixture.portalKey))])
        #expect(entries[1].identity == ClientIdentity(name: "ci", projects: .all, rateLimit: Fixture.defaultLimit))
        #expect(entries[1].keySHA256.count == 2)
        #expect(entries[1].keySHA256[0] == Data(ClientKey.sha256(Fixture.ciKey)))
    }

    @Test("weight, max_pending_requests and max_stored_requests are read; absent, they are 1 and the configured defaults (nil)")
    func weightAndPendingBound() throws {
        let directory = try ClientsFileDirectory()
        let path = try directory.write(
            Self.oneClient(Self.validMembers + "\nweight: 2.5\nmax_pending_requests: 7\nmax_stored_requests: 500")
                + "  - name: b\n    key_sha256: [\(ClientKey.sha256Hex(Fixture.ciKey))]\n    projects: [\"*\"]\n")
        let entries = try ClientsFile.load(path: path, defaultRateLimit: Fixture.defaultLimit)
        #expect(entries.map(\.identity.weight) == [2.5, 1])
        #expect(entries.map(\.identity.maxPendingRequests) == [7, nil])
        #expect(entries.map(\.identity.maxStoredRequests) == [500, nil])
        #expect(entries[0].identity.upstreamCaller == UpstreamCaller(client: "a", weight: 2.5))
    }

    @Test func loadsJSON() throws {
        let directory = try ClientsFileDirectory()
        let json = """
            {"clients": [
              {"name": "portal", "key_sha256": ["\(Fixture.passwordHash)"],
               "projects": ["\(Fixture.project)", "\(Fixture.otherProject)"], "rate_limit": {"rate": 2, "burst": 4}},
              {"name": "all.projects_1-x", "key_sha256": ["\(ClientKey.sha256Hex(Fixture.ciKey))"], "projects": ["*"]}
            ]}
            """
        let path = try directory.write(json, to: "clients.JSON")
        let entries = try ClientsFile.load(path: path, defaultRateLimit: Fixture.defaultLimit)
        #expect(entries.map(\.identity) == [
            ClientIdentity(
                name: "portal", projects: .only([Fixture.project, Fixture.otherProject]),
                rateLimit: ClientRateLimit(rate: 2, burst: 4)),
            ClientIdentity(name: "all.projects_1-x", projects: .all, rateLimit: Fixture.defaultLimit),
        ])
    }

    @Test func nameOfSixtyFourCharactersIsAccepted() throws {
        let name = String(repeating: "n", count: 64)
        let result = try Self.problems("clients:\n  - name: \(name)\n" + Self.validMembers.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        #expect(result.problems == [])
    }

    // MARK: One problem each

    struct Case: CustomTestStringConvertible, Sendable {
        let label: String
        let text: String
        let problem: String
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "duplicate name", text: """
            clients:
              - name: ci
                key_sha256: [\(ClientsFixture.passwordHash)]
                projects: ["*"]
              - name: ci
                key_sha256: [\(ClientKey.sha256Hex("another key 0123"))]
                projects: ["*"]
            """, problem: #"clients[1] (name "ci"): name is already the name of clients[0]"#),
        Case(label: "name missing", text: """
            clients:
              - key_sha256: [\(ClientsFixture.passwordHash)]
                projects: ["*"]
            """, problem: "clients[0]: name is missing"),
        Case(label: "name with a space", text: """
            clients:
              - name: "my client"
                key_sha256: [\(ClientsFixture.passwordHash)]
                projects: ["*"]
            """, problem: "clients[0]: name must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'"),
        Case(label: "name too long", text: """
            clients:
              - name: \(String(repeating: "n", count: 65))
                key_sha256: [\(ClientsFixture.passwordHash)]
                projects: ["*"]
            """, problem: "clients[0]: name must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'"),
        Case(label: "name empty", text: """
            clients:
              - name: ""
                key_sha256: [\(ClientsFixture.passwordHash)]
                projects: ["*"]
            """, problem: "clients[0]: name must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'"),
        Case(label: "name not a string", text: """
            clients:
              - name: [a, b]
                key_sha256: [\(ClientsFixture.passwordHash)]
                projects: ["*"]
            """, problem: "clients[0]: name must be a string"),
        Case(label: "key_sha256 missing", text: oneClient(#"projects: ["*"]"#),
             problem: #"clients[0] (name "a"): key_sha256 is missing"#),
        Case(label: "key_sha256 empty", text: oneClient("key_sha256: []\nprojects: [\"*\"]"),
             problem: #"clients[0] (name "a"): key_sha256 must hold at least one hash"#),
        Case(label: "key_sha256 a single string", text: oneClient("key_sha256: \(ClientsFixture.passwordHash)\nprojects: [\"*\"]"),
             problem: #"clients[0] (name "a"): key_sha256 must be a list of strings"#),
        Case(label: "hash of 63 characters", text: oneClient("key_sha256: [\(ClientsFixture.passwordHash.dropLast())]\nprojects: [\"*\"]"),
             problem: #"clients[0] (name "a"): key_sha256[0] is not 64 hex characters"#),
        Case(label: "hash of 65 characters", text: oneClient("key_sha256: [\(ClientsFixture.passwordHash)0]\nprojects: [\"*\"]"),
             problem: #"clients[0] (name "a"): key_sha256[0] is not 64 hex characters"#),
        Case(label: "hash not hex", text: oneClient("key_sha256: [\(ClientsFixture.passwordHash), \(String(repeating: "g", count: 64))]\nprojects: [\"*\"]"),
             problem: #"clients[0] (name "a"): key_sha256[1] is not 64 hex characters"#),
        Case(label: "hash shared by two clients", text: """
            clients:
              - name: ci
                key_sha256: [\(ClientsFixture.passwordHash)]
                projects: ["*"]
              - name: portal
                key_sha256: [\(ClientKey.sha256Hex("another key 0123")), \(ClientsFixture.passwordHash.uppercased())]
                projects: ["*"]
            """, problem: #"clients[1] (name "portal"): key_sha256[1] is also a key hash of clients[0] (name "ci")"#),
        Case(label: "hash repeated in one client", text: oneClient("key_sha256: [\(ClientsFixture.passwordHash), \(ClientsFixture.passwordHash)]\nprojects: [\"*\"]"),
             problem: #"clients[0] (name "a"): key_sha256[1] repeats key_sha256[0]"#),
        Case(label: "projects missing", text: oneClient("key_sha256: [\(ClientsFixture.passwordHash)]"),
             problem: #"clients[0] (name "a"): projects is missing"#),
        Case(label: "projects empty", text: oneClient("key_sha256: [\(ClientsFixture.passwordHash)]\nprojects: []"),
             problem: #"clients[0] (name "a"): projects must hold at least one project_id, or "*""#),
        Case(label: "projects not a list", text: oneClient("key_sha256: [\(ClientsFixture.passwordHash)]\nprojects: {a: b}"),
             problem: #"clients[0] (name "a"): projects must be a list of strings"#),
        Case(label: "project_id of 31 characters", text: oneClient("key_sha256: [\(ClientsFixture.passwordHash)]\nprojects: [\(ClientsFixture.project), \(ClientsFixture.project.dropLast())]"),
             problem: #"clients[0] (name "a"): projects[1] is not 32 hex characters or "*""#),
        Case(label: "project_id not hex", text: oneClient("key_sha256: [\(ClientsFixture.passwordHash)]\nprojects: [\(String(repeating: "z", count: 32))]"),
             problem: #"clients[0] (name "a"): projects[0] is not 32 hex characters or "*""#),
        Case(label: "star with a project", text: oneClient("key_sha256: [\(ClientsFixture.passwordHash)]\nprojects: [\"*\", \(ClientsFixture.project)]"),
             problem: #"clients[0] (name "a"): projects: "*" must be the only entry"#),
        Case(label: "rate zero", text: oneClient(validMembers + "\nrate_limit: {rate: 0, burst: 1}"),
             problem: #"clients[0] (name "a"): rate_limit.rate must be a number from 0.001 to 1000000 (requests per second)"#),
        Case(label: "rate negative", text: oneClient(validMembers + "\nrate_limit: {rate: -1, burst: 1}"),
             problem: #"clients[0] (name "a"): rate_limit.rate must be a number from 0.001 to 1000000 (requests per second)"#),
        Case(label: "rate infinite", text: oneClient(validMembers + "\nrate_limit: {rate: .inf, burst: 1}"),
             problem: #"clients[0] (name "a"): rate_limit.rate must be a number from 0.001 to 1000000 (requests per second)"#),
        Case(label: "rate not a number", text: oneClient(validMembers + "\nrate_limit: {rate: .nan, burst: 1}"),
             problem: #"clients[0] (name "a"): rate_limit.rate must be a number from 0.001 to 1000000 (requests per second)"#),
        Case(label: "rate a word", text: oneClient(validMembers + "\nrate_limit: {rate: fast, burst: 1}"),
             problem: #"clients[0] (name "a"): rate_limit.rate must be a number (requests per second)"#),
        Case(label: "rate missing", text: oneClient(validMembers + "\nrate_limit: {burst: 1}"),
             problem: #"clients[0] (name "a"): rate_limit.rate is missing"#),
        Case(label: "burst zero", text: oneClient(validMembers + "\nrate_limit: {rate: 1, burst: 0}"),
             problem: #"clients[0] (name "a"): rate_limit.burst must be a whole number from 1 to 1000000"#),
        Case(label: "rate too high", text: oneClient(validMembers + "\nrate_limit: {rate: 1e300, burst: 1}"),
             problem: #"clients[0] (name "a"): rate_limit.rate must be a number from 0.001 to 1000000 (requests per second)"#),
        Case(label: "rate too low", text: oneClient(validMembers + "\nrate_limit: {rate: 1e-300, burst: 1}"),
             problem: #"clients[0] (name "a"): rate_limit.rate must be a number from 0.001 to 1000000 (requests per second)"#),
        Case(label: "burst too large", text: oneClient(validMembers + "\nrate_limit: {rate: 1, burst: 9223372036854775807}"),
             problem: #"clients[0] (name "a"): rate_limit.burst must be a whole number from 1 to 1000000"#),
        Case(label: "burst fractional", text: oneClient(validMembers + "\nrate_limit: {rate: 1, burst: 2.5}"),
             problem: #"clients[0] (name "a"): rate_limit.burst must be an integer (requests)"#),
        Case(label: "burst missing", text: oneClient(validMembers + "\nrate_limit: {rate: 1}"),
             problem: #"clients[0] (name "a"): rate_limit.burst is missing"#),
        Case(label: "rate_limit not a mapping", text: oneClient(validMembers + "\nrate_limit: 5"),
             problem: #"clients[0] (name "a"): rate_limit must be a mapping with rate and burst"#),
        Case(label: "typo in a client member", text: oneClient("key_sha256: [\(ClientsFixture.passwordHash)]\nprojects: [\"*\"]\nprojetcs: [\"*\"]"),
             problem: #"clients[0] (name "a"): unknown key "projetcs""#),
        Case(label: "typo in rate_limit", text: oneClient(validMembers + "\nrate_limit: {rate: 1, burst: 2, brust: 3}"),
             problem: #"clients[0] (name "a"): rate_limit: unknown key "brust""#),
        Case(label: "weight zero", text: oneClient(validMembers + "\nweight: 0"),
             problem: #"clients[0] (name "a"): weight must be a number from 0.01 to 1000 (its share of the IMS call budget)"#),
        Case(label: "weight negative", text: oneClient(validMembers + "\nweight: -1"),
             problem: #"clients[0] (name "a"): weight must be a number from 0.01 to 1000 (its share of the IMS call budget)"#),
        Case(label: "weight huge", text: oneClient(validMembers + "\nweight: 1e9"),
             problem: #"clients[0] (name "a"): weight must be a number from 0.01 to 1000 (its share of the IMS call budget)"#),
        Case(label: "weight not a number", text: oneClient(validMembers + "\nweight: .nan"),
             problem: #"clients[0] (name "a"): weight must be a number from 0.01 to 1000 (its share of the IMS call budget)"#),
        Case(label: "weight a word", text: oneClient(validMembers + "\nweight: heavy"),
             problem: #"clients[0] (name "a"): weight must be a number (its share of the IMS call budget)"#),
        Case(label: "max_pending_requests zero", text: oneClient(validMembers + "\nmax_pending_requests: 0"),
             problem: #"clients[0] (name "a"): max_pending_requests must be a whole number from 1 to 1000000"#),
        Case(label: "max_pending_requests too large", text: oneClient(validMembers + "\nmax_pending_requests: 1000001"),
             problem: #"clients[0] (name "a"): max_pending_requests must be a whole number from 1 to 1000000"#),
        Case(label: "max_pending_requests fractional", text: oneClient(validMembers + "\nmax_pending_requests: 2.5"),
             problem: #"clients[0] (name "a"): max_pending_requests must be an integer (requests)"#),
        Case(label: "max_stored_requests zero", text: oneClient(validMembers + "\nmax_stored_requests: 0"),
             problem: #"clients[0] (name "a"): max_stored_requests must be a whole number from 1 to 10000000"#),
        Case(label: "max_stored_requests a word", text: oneClient(validMembers + "\nmax_stored_requests: many"),
             problem: #"clients[0] (name "a"): max_stored_requests must be an integer (requests)"#),
        Case(label: "unknown top-level key", text: oneClient(validMembers) + "client: []\n",
             problem: #"unknown key "client""#),
        Case(label: "clients empty", text: "clients: []\n", problem: "clients must list at least one client"),
        Case(label: "clients not a list", text: "clients: {name: a}\n", problem: "clients must be a list"),
        Case(label: "clients null", text: "clients:\n", problem: "clients must be a list"),
        Case(label: "client not a mapping", text: "clients:\n  - portal\n",
             problem: "clients[0]: must be a mapping with name, key_sha256 and projects"),
        Case(label: "top level a list", text: "- name: a\n", problem: "the top level must be a mapping with a clients list"),
        Case(label: "top level a scalar", text: "clients\n", problem: "the top level must be a mapping with a clients list"),
    ]

    @Test(arguments: cases)
    func refusesWithOneProblem(_ testCase: Case) throws {
        let result = try Self.problems(testCase.text)
        #expect(result.problems == ["\(result.path): \(testCase.problem)"])
    }

    @Test func clientsMissingBecauseOfATypo() throws {
        let result = try Self.problems("client:\n  - name: a\n")
        #expect(result.problems == ["\(result.path): unknown key \"client\"", "\(result.path): clients is missing"])
    }

    @Test(arguments: [
        (#"{"clients": [{"name": "a", "key_sha256": ["5e88"], "projects": ["*"]}]}"#,
         #"clients[0] (name "a"): key_sha256[0] is not 64 hex characters"#),
        (#"{"clients": [{"name": "a", "key_sha256": ["\#(ClientsFixture.passwordHash)"], "projects": ["*"], "projetcs": ["*"]}]}"#,
         #"clients[0] (name "a"): unknown key "projetcs""#),
        (#"{"clients": [{"name": "a", "key_sha256": [1], "projects": ["*"]}]}"#,
         #"clients[0] (name "a"): key_sha256 must be a list of strings"#),
        (#"{"clients": [{"name": "a", "key_sha256": ["\#(ClientsFixture.passwordHash)"], "projects": ["*"], "rate_limit": {"rate": "5", "burst": 1}}]}"#,
         #"clients[0] (name "a"): rate_limit.rate must be a number (requests per second)"#),
        (#"{"clients": [{"name": "a", "key_sha256": ["\#(ClientsFixture.passwordHash)"], "projects": ["*"], "rate_limit": null}]}"#,
         #"clients[0] (name "a"): rate_limit must be a mapping with rate and burst"#),
        (#"[]"#, "the top level must be a mapping with a clients list"),
    ])
    func refusesJSONWithOneProblem(_ json: String, problem: String) throws {
        let result = try Self.problems(json, name: "clients.json")
        #expect(result.problems == ["\(result.path): \(problem)"])
    }

    @Test func everyProblemIsReported() throws {
        let text = """
            clients:
              - name: portal
                key_sha256: [abc]
                projects: []
                rate_limit: {rate: 0, burst: 0}
              - name: portal
                projetcs: ["*"]
            """
        let result = try Self.problems(text)
        let prefix = result.path + ": "
        #expect(result.problems == [
            #"clients[0] (name "portal"): key_sha256[0] is not 64 hex characters"#,
            #"clients[0] (name "portal"): projects must hold at least one project_id, or "*""#,
            #"clients[0] (name "portal"): rate_limit.rate must be a number from 0.001 to 1000000 (requests per second)"#,
            #"clients[0] (name "portal"): rate_limit.burst must be a whole number from 1 to 1000000"#,
            #"clients[1] (name "portal"): unknown key "projetcs""#,
            #"clients[1] (name "portal"): name is already the name of clients[0]"#,
            #"clients[1] (name "portal"): key_sha256 is missing"#,
            #"clients[1] (name "portal"): projects is missing"#,
        ].map { prefix + $0 })
    }

    @Test func descriptionListsEveryProblemOnItsOwnLine() {
        let error = ClientsFileError(path: "clients.yaml", problems: ["clients.yaml: one", "clients.yaml: two"])
        #expect(error.description == "clients.yaml: one\nclients.yaml: two")
    }

    // MARK: The file itself

    @Test func missingFile() throws {
        let directory = try ClientsFileDirectory()
        let path = directory.url.appendingPathComponent("absent.yaml").path
        #expect(throws: ClientsFileError(path: path, problems: ["\(path): the file does not exist"])) {
            try ClientsFile.load(path: path, defaultRateLimit: ClientsFixture.defaultLimit)
        }
    }

    @Test func directoryInsteadOfFile() throws {
        let directory = try ClientsFileDirectory()
        let path = directory.url.path
        #expect(throws: ClientsFileError(path: path, problems: ["\(path): the path is a directory, not a file"])) {
            try ClientsFile.load(path: path, defaultRateLimit: ClientsFixture.defaultLimit)
        }
    }

    @Test(arguments: ["", "  \n\n\t\n"])
    func emptyFile(_ text: String) throws {
        let result = try Self.problems(text)
        #expect(result.problems == ["\(result.path): the file is empty"])
    }

    @Test func onlyCommentsIsNotAMapping() throws {
        let result = try Self.problems("# nothing yet\n")
        #expect(result.problems == ["\(result.path): the top level must be a mapping with a clients list"])
    }

    @Test func notUTF8() throws {
        let directory = try ClientsFileDirectory()
        let path = directory.url.appendingPathComponent("clients.yaml").path
        try Data([0x63, 0x6C, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: path))
        #expect(throws: ClientsFileError(path: path, problems: ["\(path): the file is not UTF-8 text"])) {
            try ClientsFile.load(path: path, defaultRateLimit: ClientsFixture.defaultLimit)
        }
    }

    @Test func unparsableYAML() throws {
        let result = try Self.problems("clients:\n  - name: a\n   key_sha256: [\n")
        #expect(result.problems.count == 1)
        let problem = try #require(result.problems.first)
        #expect(problem.hasPrefix("\(result.path): not valid YAML: "))
        #expect(problem.contains("line "))
        #expect(!problem.contains("\n"))
    }

    @Test func duplicateKeyInYAML() throws {
        let result = try Self.problems(Self.oneClient(Self.validMembers + "\nprojects: [\"*\"]"))
        #expect(result.problems.count == 1)
        let problem = try #require(result.problems.first)
        #expect(problem.hasPrefix("\(result.path): not valid YAML: a mapping gives \"projects\" twice"))
    }

    @Test func unparsableJSON() throws {
        let result = try Self.problems(#"{"clients": [}"#, name: "clients.json")
        #expect(result.problems == ["\(result.path): not valid JSON: Invalid value around character 13."])
    }

    @Test(arguments: [
        #"{"clients": [{"name": "a", "projects": ["\#(ClientsFixture.project)"], "key_sha256": [], "proj\u0065cts": ["*"]}]}"#,
        #"{"clients": [], "clients": [{"name": "a", "key_sha256": ["\#(ClientsFixture.passwordHash)"], "projects": ["*"]}]}"#,
    ])
    func memberGivenTwiceInJSON(_ json: String) throws {
        let result = try Self.problems(json, name: "clients.json")
        #expect(result.problems.count == 1)
        #expect(result.problems.first?.hasPrefix("\(result.path): an object gives \"") == true)
        #expect(result.problems.first?.hasSuffix("\" twice") == true)
    }

    @Test func repeatedJSONMemberScanner() {
        func scan(_ json: String) -> String? { ClientsFile.repeatedJSONMember(in: Array(json.utf8)) }
        #expect(scan(#"{"a": {"b": 1, "c": [{"b": 2}, {"b": 3}]}, "b": "\"a\", \"a\""}"#) == nil)
        #expect(scan(#"{"a": {"b": 1, "c": [{"b": 2, "d": 0, "b": 3}]}}"#) == "b")
        #expect(scan(#"[{"x": 1}, {"x": 2}, {"y": [1, 2], "y": 3}]"#) == "y")
    }

    // MARK: Secrets and values stay out of messages

    @Test func messagesNameFieldsNotValues() throws {
        let key = ClientKey.generate()
        let badHash = String(repeating: "ab", count: 31) + "xyz"
        // A key pasted where its hash belongs, a bad hash, and a key pasted as a member name.
        let text = Self.oneClient("key_sha256: [\(key), \(badHash)]\nprojects: [\"*\"]\n\(key): 1")
        let result = try Self.problems(text)
        #expect(result.problems == [
            #"clients[0] (name "a"): unknown key a key of 49 characters"#,
            #"clients[0] (name "a"): key_sha256[0] is not 64 hex characters"#,
            #"clients[0] (name "a"): key_sha256[1] is not 64 hex characters"#,
        ].map { "\(result.path): \($0)" })
        for problem in result.problems {
            #expect(!problem.contains(key))
            #expect(!problem.contains(String(key.dropFirst(ClientKey.prefix.count))))
            #expect(!problem.contains(badHash))
        }
    }
}

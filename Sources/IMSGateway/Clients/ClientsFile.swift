import Foundation
import Yams

/// One client as loaded from the clients file: who it is, and the SHA-256 of each key it may use.
public struct ClientEntry: Sendable, Equatable {
    /// The client's name, projects and rate limit.
    public var identity: ClientIdentity
    /// The SHA-256 of each accepted key's UTF-8 bytes, 32 bytes each; several while keys rotate.
    public var keySHA256: [Data]

    /// An entry accepting the keys whose SHA-256 digests (32 bytes each) are `keySHA256`.
    public init(identity: ClientIdentity, keySHA256: [Data]) {
        self.identity = identity
        self.keySHA256 = keySHA256
    }

    /// An entry accepting `keys`, which are hashed here and not kept (for tests and the demo).
    public init(identity: ClientIdentity, keys: [String]) {
        self.init(identity: identity, keySHA256: keys.map { Data(ClientKey.sha256($0)) })
    }
}

/// The clients file (YAML, or JSON when the name ends in `.json`): every caller the gateway
/// accepts, with the SHA-256 of its keys, never a key.
///
/// ```yaml
/// clients:
///   - name: portal                   # unique, 1-64 characters of [A-Za-z0-9._-]
///     key_sha256: [5e884898...]      # 64 hex each (either case), one or more
///     projects: ["edc89b490d7d4392898e19b2deb34797"]   # 32 hex each, or ["*"]
///     rate_limit: {rate: 5, burst: 10}                 # optional
/// ```
public enum ClientsFile {
    /// Reads, decodes and checks the clients file at `path`.
    ///
    /// - Parameters:
    ///   - path: The file; parsed as JSON when it ends in `.json` (any letter case), else as YAML.
    ///   - defaultRateLimit: The limit of clients that give no `rate_limit`.
    /// - Returns: One entry per client, in file order; project IDs normalised to lower case.
    /// - Throws: ``ClientsFileError`` listing every problem found, when there is at least one.
    public static func load(path: String, defaultRateLimit: ClientRateLimit) throws(ClientsFileError) -> [ClientEntry] {
        let document = try decode(try read(path: path), path: path)
        return try validate(document, path: path, defaultRateLimit: defaultRateLimit).get()
    }

    /// The file's bytes, or why they cannot be had.
    private static func read(path: String) throws(ClientsFileError) -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ClientsFileError(path: path, problem: "the file does not exist")
        }
        guard !isDirectory.boolValue else { throw ClientsFileError(path: path, problem: "the path is a directory, not a file") }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as CocoaError where error.code == .fileReadNoPermission {
            throw ClientsFileError(path: path, problem: "the file cannot be read: permission denied")
        } catch {
            throw ClientsFileError(path: path, problem: "the file cannot be read")
        }
        guard data.contains(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else {
            throw ClientsFileError(path: path, problem: "the file is empty")
        }
        return data
    }

    private static func decode(_ data: Data, path: String) throws(ClientsFileError) -> Document {
        if path.lowercased().hasSuffix(".json") {
            let document: Document
            do {
                document = try JSONDecoder().decode(Document.self, from: data)
            } catch {
                throw ClientsFileError(path: path, problem: "not valid JSON" + jsonParseDetail(data))
            }
            // YAML files get this check from Yams.
            if let name = repeatedJSONMember(in: Array(data)) {
                throw ClientsFileError(path: path, problem: "an object gives \(displayName(ofKey: name)) twice")
            }
            return document
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ClientsFileError(path: path, problem: "the file is not UTF-8 text")
        }
        do {
            return try YAMLDecoder().decode(Document.self, from: text)
        } catch {
            throw ClientsFileError(path: path, problem: "not valid YAML" + parseDetail(error))
        }
    }

    /// Where and why a parser gave up, without quoting the file: `": <problem> (line 3, column 7)"`.
    private static func parseDetail(_ error: any Error) -> String {
        var underlying: any Error = error
        if case DecodingError.dataCorrupted(let context) = error, let inner = context.underlyingError {
            underlying = inner
        }
        switch underlying {
        case YamlError.scanner(_, let problem, let mark, _), YamlError.parser(_, let problem, let mark, _),
            YamlError.composer(_, let problem, let mark, _):
            return ": \(problem) (line \(mark.line), column \(mark.column))"
        case YamlError.duplicatedKeysInMapping(let duplicates, let context):
            let names = duplicates.sorted().map { displayName(ofKey: $0) }.joined(separator: ", ")
            return ": a mapping gives \(names) twice (line \(context.mark.line))"
        case YamlError.reader(let problem, _, _, _):
            return ": \(problem)"
        default:
            return ""
        }
    }

    /// Where a JSON parser gave up, e.g. `": Invalid value around character 13."`.
    ///
    /// JSONDecoder says only that the data is not JSON; JSONSerialization says where.
    private static func jsonParseDetail(_ data: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: data)
        } catch {
            if let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String { return ": \(detail)" }
        }
        return ""
    }

    /// The first member name that an object in `bytes` (valid JSON) gives twice, at any depth.
    ///
    /// JSONDecoder silently keeps one of the two and other tools may keep the other, so an
    /// operator could read a different `projects` from the one the gateway applies.
    static func repeatedJSONMember(in bytes: [UInt8]) -> String? {
        // One element per open container: the names an object gave so far, or nil for an array.
        var open: [Set<String>?] = []
        var expectingName = false
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                let start = index
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                index += 1
                guard index <= bytes.count else { return nil }
                if expectingName, let last = open.last, var names = last {
                    guard let name = try? JSONSerialization.jsonObject(
                        with: Data(bytes[start..<index]), options: [.fragmentsAllowed]) as? String
                    else { return nil }
                    if names.contains(name) { return name }
                    names.insert(name)
                    open[open.count - 1] = names
                    expectingName = false
                }
                continue
            case UInt8(ascii: "{"):
                open.append([])
                expectingName = true
            case UInt8(ascii: "["):
                open.append(nil)
                expectingName = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = open.popLast()
                expectingName = false
            case UInt8(ascii: ","):
                if let last = open.last { expectingName = last != nil }
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// How an unrecognised mapping key is named in a message.
    ///
    /// A name as long as a client key might be one pasted in the wrong place, so only names
    /// shorter than the shortest valid key are quoted.
    static func displayName(ofKey key: String) -> String {
        key.count < ClientKey.allowedLength.lowerBound ? "\"\(key)\"" : "a key of \(key.count) characters"
    }
}

// MARK: - Checking

extension ClientsFile {
    private static func validate(
        _ document: Document, path: String, defaultRateLimit: ClientRateLimit
    ) -> Result<[ClientEntry], ClientsFileError> {
        var problems: [String] = []
        func report(_ subject: String?, _ problem: String) {
            problems.append([path, subject, problem].compactMap { $0 }.joined(separator: ": "))
        }
        guard !document.notAMapping else {
            report(nil, "the top level must be a mapping with a clients list")
            return .failure(ClientsFileError(path: path, problems: problems))
        }
        for key in document.unknownKeys { report(nil, "unknown key \(displayName(ofKey: key))") }
        let clients: [Client]
        switch document.clients {
        case .absent: report(nil, "clients is missing"); clients = []
        case .invalid: report(nil, "clients must be a list"); clients = []
        case .value(let list):
            if list.isEmpty { report(nil, "clients must list at least one client") }
            clients = list
        }

        var entries: [ClientEntry] = []
        var firstIndexOfName: [String: Int] = [:]
        var ownerOfHash: [Data: Int] = [:]
        for (index, client) in clients.enumerated() {
            var subject = "clients[\(index)]"
            guard !client.notAMapping else {
                report(subject, "must be a mapping with name, key_sha256 and projects")
                continue
            }
            var name: String?
            switch client.name {
            case .absent: report(subject, "name is missing")
            case .invalid: report(subject, "name must be a string")
            case .value(let value):
                if isValidName(value) {
                    name = value
                    subject += " (name \"\(value)\")"
                } else {
                    report(subject, "name must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'")
                }
            }
            for key in client.unknownKeys { report(subject, "unknown key \(displayName(ofKey: key))") }
            if let name {
                if let first = firstIndexOfName[name] {
                    report(subject, "name is already the name of clients[\(first)]")
                } else {
                    firstIndexOfName[name] = index
                }
            }

            var hashes: [Data] = []
            switch client.keySHA256 {
            case .absent: report(subject, "key_sha256 is missing")
            case .invalid: report(subject, "key_sha256 must be a list of strings")
            case .value(let list):
                if list.isEmpty { report(subject, "key_sha256 must hold at least one hash") }
                for (hashIndex, hex) in list.enumerated() {
                    guard let bytes = ClientKey.digestBytes(hex: hex) else {
                        report(subject, "key_sha256[\(hashIndex)] is not 64 hex characters")
                        continue
                    }
                    if let earlier = hashes.firstIndex(of: bytes) {
                        report(subject, "key_sha256[\(hashIndex)] repeats key_sha256[\(earlier)]")
                    } else if let owner = ownerOfHash[bytes] {
                        report(subject, "key_sha256[\(hashIndex)] is also a key hash of \(clientLabel(owner, clients))")
                    } else {
                        ownerOfHash[bytes] = index
                    }
                    hashes.append(bytes)
                }
            }

            var scope = ProjectScope.only([])
            switch client.projects {
            case .absent: report(subject, "projects is missing")
            case .invalid: report(subject, "projects must be a list of strings")
            case .value(let list):
                if list.isEmpty {
                    report(subject, "projects must hold at least one project_id, or \"*\"")
                } else if list.contains("*") {
                    if list.count == 1 { scope = .all } else { report(subject, "projects: \"*\" must be the only entry") }
                } else {
                    var projectIDs = Set<String>()
                    for (projectIndex, projectID) in list.enumerated() {
                        if isProjectID(projectID) {
                            projectIDs.insert(projectID.lowercased())
                        } else {
                            report(subject, "projects[\(projectIndex)] is not 32 hex characters or \"*\"")
                        }
                    }
                    scope = .only(projectIDs)
                }
            }

            var rateLimit = defaultRateLimit
            switch client.rateLimit {
            case .absent: break
            case .invalid: report(subject, "rate_limit must be a mapping with rate and burst")
            case .value(let limit) where limit.notAMapping:
                report(subject, "rate_limit must be a mapping with rate and burst")
            case .value(let limit):
                for key in limit.unknownKeys { report(subject, "rate_limit: unknown key \(displayName(ofKey: key))") }
                switch limit.rate {
                case .absent: report(subject, "rate_limit.rate is missing")
                case .invalid: report(subject, "rate_limit.rate must be a number (requests per second)")
                case .value(let rate):
                    if rate.isFinite && (0.001...1_000_000).contains(rate) {
                        rateLimit.rate = rate
                    } else {
                        report(subject, "rate_limit.rate must be a number from 0.001 to 1000000 (requests per second)")
                    }
                }
                switch limit.burst {
                case .absent: report(subject, "rate_limit.burst is missing")
                case .invalid: report(subject, "rate_limit.burst must be an integer (requests)")
                case .value(let burst):
                    if (1...1_000_000).contains(burst) {
                        rateLimit.burst = burst
                    } else {
                        report(subject, "rate_limit.burst must be a whole number from 1 to 1000000")
                    }
                }
            }

            // Entries only leave this function when no problem was found, so every one has a name.
            if let name {
                entries.append(ClientEntry(
                    identity: ClientIdentity(name: name, projects: scope, rateLimit: rateLimit), keySHA256: hashes))
            }
        }
        return problems.isEmpty ? .success(entries) : .failure(ClientsFileError(path: path, problems: problems))
    }

    private static func clientLabel(_ index: Int, _ clients: [Client]) -> String {
        if case .value(let name) = clients[index].name, isValidName(name) { return "clients[\(index)] (name \"\(name)\")" }
        return "clients[\(index)]"
    }

    /// 1-64 characters of `[A-Za-z0-9._-]`.
    static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }

    /// 32 hexadecimal characters, either case.
    static func isProjectID(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
                UInt8(ascii: "A")...UInt8(ascii: "F"):
                return true
            default:
                return false
            }
        }
    }
}

// MARK: - File model

extension ClientsFile {
    /// A member as decoded: missing, present with a value, or present with a value of the wrong type.
    ///
    /// Decoding never stops at the first bad member, so that every problem of a file is reported at once.
    enum Field<Value> {
        case absent
        case invalid
        case value(Value)
    }

    /// Any member name, so that the names a mapping gives can be compared with the ones it may give.
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) {
            self.stringValue = String(intValue)
            self.intValue = intValue
        }
    }

    /// A mapping read member by member: which members it has that it may not, and each allowed member.
    struct Members {
        let container: KeyedDecodingContainer<AnyKey>?
        let unknownKeys: [String]

        init(_ decoder: any Decoder, allowed: Set<String>) {
            container = try? decoder.container(keyedBy: AnyKey.self)
            unknownKeys = (container?.allKeys.map(\.stringValue) ?? []).filter { !allowed.contains($0) }
        }

        func field<Value: Decodable>(_ key: String, as type: Value.Type = Value.self) -> Field<Value> {
            guard let container, container.contains(AnyKey(key)) else { return .absent }
            guard let value = try? container.decode(Value.self, forKey: AnyKey(key)) else { return .invalid }
            return .value(value)
        }
    }

    /// The whole file: `{clients: [...]}`.
    struct Document: Decodable {
        var notAMapping: Bool
        var unknownKeys: [String]
        var clients: Field<[Client]>

        init(from decoder: any Decoder) {
            let members = Members(decoder, allowed: ["clients"])
            notAMapping = members.container == nil
            unknownKeys = members.unknownKeys
            clients = members.field("clients")
        }
    }

    /// One element of `clients`.
    struct Client: Decodable {
        var notAMapping: Bool
        var unknownKeys: [String]
        var name: Field<String>
        var keySHA256: Field<[String]>
        var projects: Field<[String]>
        var rateLimit: Field<RateLimit>

        init(from decoder: any Decoder) {
            let members = Members(decoder, allowed: ["name", "key_sha256", "projects", "rate_limit"])
            notAMapping = members.container == nil
            unknownKeys = members.unknownKeys
            name = members.field("name")
            keySHA256 = members.field("key_sha256")
            projects = members.field("projects")
            rateLimit = members.field("rate_limit")
        }
    }

    /// A client's `rate_limit`: `{rate: <requests per second>, burst: <requests>}`.
    struct RateLimit: Decodable {
        var notAMapping: Bool
        var unknownKeys: [String]
        var rate: Field<Double>
        var burst: Field<Int>

        init(from decoder: any Decoder) {
            let members = Members(decoder, allowed: ["rate", "burst"])
            notAMapping = members.container == nil
            unknownKeys = members.unknownKeys
            rate = members.field("rate")
            burst = members.field("burst")
        }
    }
}

/// Why the clients file could not be loaded: every problem found, one line each, each starting
/// with the file's path and naming the client (index and name) and the field.
///
/// Messages name fields, never their values, and never hold a key or a key hash.
public struct ClientsFileError: Error, Equatable, CustomStringConvertible {
    /// The clients file's path, as given to the loader.
    public var path: String
    /// One line per problem, e.g. `clients.yaml: clients[1] (name "ci"): key_sha256[0] is not 64 hex characters`.
    public var problems: [String]

    /// An error for `path` with the given problem lines.
    public init(path: String, problems: [String]) {
        self.path = path
        self.problems = problems
    }

    /// An error about the whole file (missing, unreadable, unparsable, empty).
    init(path: String, problem: String) {
        self.init(path: path, problems: ["\(path): \(problem)"])
    }

    /// Every problem, one per line.
    public var description: String { problems.joined(separator: "\n") }
}

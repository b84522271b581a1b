import Foundation

extension ClientsFile {
    static func validate(
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

            var weight = 1.0
            switch client.weight {
            case .absent: break
            case .invalid: report(subject, "weight must be a number (its share of the IMS call budget)")
            case .value(let value):
                if value.isFinite && (0.01...1_000).contains(value) {
                    weight = value
                } else {
                    report(subject, "weight must be a number from 0.01 to 1000 (its share of the IMS call budget)")
                }
            }
            var maxPendingRequests: Int?
            switch client.maxPendingRequests {
            case .absent: break
            case .invalid: report(subject, "max_pending_requests must be an integer (requests)")
            case .value(let value):
                if (1...1_000_000).contains(value) {
                    maxPendingRequests = value
                } else {
                    report(subject, "max_pending_requests must be a whole number from 1 to 1000000")
                }
            }
            var maxStoredRequests: Int?
            switch client.maxStoredRequests {
            case .absent: break
            case .invalid: report(subject, "max_stored_requests must be an integer (requests)")
            case .value(let value):
                if (1...10_000_000).contains(value) {
                    maxStoredRequests = value
                } else {
                    report(subject, "max_stored_requests must be a whole number from 1 to 10000000")
                }
            }

            // Entries only leave this function when no problem was found, so every one has a name.
            if let name {
                var identity = ClientIdentity(name: name, projects: scope, rateLimit: rateLimit)
                identity.weight = weight
                identity.maxPendingRequests = maxPendingRequests
                identity.maxStoredRequests = maxStoredRequests
                entries.append(ClientEntry(identity: identity, keySHA256: hashes))
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

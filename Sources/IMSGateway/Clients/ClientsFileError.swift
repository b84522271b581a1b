import Foundation

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

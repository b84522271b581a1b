import Foundation

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

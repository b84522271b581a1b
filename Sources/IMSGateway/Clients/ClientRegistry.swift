import Crypto
import Foundation
import Synchronization

/// The clients the gateway accepts, looked up by bearer key.
///
/// The clients are one immutable snapshot behind a `Mutex`: a reload builds the new snapshot
/// off to the side and swaps it in whole, so a request authenticates against either the old
/// clients or the new ones, never a mix, and a request in flight keeps the identity it got.
public final class ClientRegistry: Sendable {
    /// The clients file this registry was loaded from, or nil for one built in memory.
    public var path: String? { file?.path }

    /// The file and the limit of clients whose entry gives no `rate_limit`, for reloads.
    private let file: (path: String, defaultRateLimit: ClientRateLimit)?
    private let snapshot: Mutex<Snapshot>
    /// Held for a whole reload so that two reloads cannot finish in the wrong order and leave
    /// the older file's clients in place.
    private let reloading = Mutex(())

    /// A registry of `entries`, with no file behind it (tests, the demo).
    public init(entries: [ClientEntry]) {
        self.file = nil
        self.snapshot = Mutex(Snapshot(entries))
    }

    private init(path: String, defaultRateLimit: ClientRateLimit, entries: [ClientEntry]) {
        self.file = (path, defaultRateLimit)
        self.snapshot = Mutex(Snapshot(entries))
    }

    /// Loads the clients file at `path`; ``reload()`` reads it again.
    ///
    /// - Parameters:
    ///   - path: The clients file (JSON when it ends in `.json`, else YAML).
    ///   - defaultRateLimit: The limit of clients that give no `rate_limit`.
    /// - Throws: ``ClientsFileError`` listing every problem of the file.
    public static func load(path: String, defaultRateLimit: ClientRateLimit) throws(ClientsFileError) -> ClientRegistry {
        let entries = try ClientsFile.load(path: path, defaultRateLimit: defaultRateLimit)
        return ClientRegistry(path: path, defaultRateLimit: defaultRateLimit, entries: entries)
    }

    /// Reads the clients file again and, when it is valid, replaces every client at once.
    ///
    /// - Returns: The number of clients now loaded. A registry built in memory keeps its
    ///   clients and returns their number.
    /// - Throws: ``ClientsFileError`` when the file is missing or invalid; the registry then
    ///   keeps the clients it had.
    @discardableResult
    public func reload() throws(ClientsFileError) -> Int {
        guard let file else { return clientCount }
        return try reloading.withLock { _ throws(ClientsFileError) -> Int in
            let entries = try ClientsFile.load(path: file.path, defaultRateLimit: file.defaultRateLimit)
            let fresh = Snapshot(entries)
            snapshot.withLock { $0 = fresh }
            return fresh.clients.count
        }
    }

    /// The client whose key is `bearerKey`, or nil when no client has that key.
    ///
    /// The key is hashed (SHA-256) and the digest looked up among the stored hashes, so the time
    /// taken does not grow with the number of clients; what timing could tell is about the
    /// digest, which reveals nothing about a key. The entry found is then compared with
    /// swift-crypto's constant-time digest comparison. The key is neither kept nor logged.
    public func authenticate(bearerKey: String) -> ClientIdentity? {
        let digest = ClientKey.sha256(bearerKey)
        let current = snapshot.withLock { $0 }
        guard let stored = current.hashes[Data(digest)], digest == stored.bytes else { return nil }
        return current.clients[stored.client]
    }

    /// The client named `name` as loaded now, or nil (removed from the clients file since).
    public func client(named name: String) -> ClientIdentity? {
        snapshot.withLock { $0.clients.first { $0.name == name } }
    }

    /// Every client loaded now.
    public var clients: [ClientIdentity] {
        snapshot.withLock { $0.clients }
    }

    /// The number of clients loaded.
    public var clientCount: Int {
        snapshot.withLock { $0.clients.count }
    }
}

extension ClientRegistry {
    /// The clients and every key hash, each pointing at its client.
    private struct Snapshot: Sendable {
        var clients: [ClientIdentity]
        /// Every key hash (the file refuses one hash for two clients), to its client.
        var hashes: [Data: StoredHash]

        init(_ entries: [ClientEntry]) {
            clients = entries.map(\.identity)
            hashes = [:]
            for (index, entry) in entries.enumerated() {
                for bytes in entry.keySHA256 where hashes[bytes] == nil {
                    hashes[bytes] = StoredHash(bytes: bytes, client: index)
                }
            }
        }
    }

    private struct StoredHash: Sendable {
        /// A key's SHA-256, 32 bytes.
        var bytes: Data
        /// The index of its client in ``Snapshot/clients``.
        var client: Int
    }
}

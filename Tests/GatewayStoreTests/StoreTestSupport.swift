import Foundation
import GatewayStore
import Logging

/// A fresh folder under the temporary directory, removed when the object goes.
final class TemporaryFolder: Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/gatewaystore-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the folder.
    func file(_ name: String) -> String { path + "/" + name }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Helpers that build records with times whole to the millisecond.
enum Fixture {
    static let logger = Logger(label: "GatewayStoreTests")
    static let version = "0.6.0"
    static let limits = AdmissionLimits(maxRunning: 10, maxStored: 100)

    /// The date `ms` milliseconds after the Unix epoch.
    static func ms(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }

    /// Opens and migrates a store at `path`.
    static func store(_ path: String, version: String = version) throws -> SQLiteGatewayStore {
        let store = try SQLiteGatewayStore(path: path, gatewayVersion: version, logger: logger)
        try store.migrate()
        return store
    }

    static func request(
        _ id: String, client: String = "alpha", key: String? = nil, state: RequestState = .running,
        created: Int64 = 1_780_000_000_123, finished: Int64? = nil
    ) -> RequestRecord {
        RequestRecord(
            id: id, client: client, route: "/accept-images", idempotencyKey: key, bodyDigest: "d1g357",
            memberStatus: "accepted", projectID: "0123456789abcdef0123456789abcdef", vaultID: "vault-1",
            correlationID: "corr-\(id)", warnings: ["duplicate image img-1 removed", "ünïcode \"quoted\""],
            weight: 1.5, createdAt: ms(created), deadline: ms(created + 30_000), backgroundUntil: ms(created + 600_000),
            state: state, updatedAt: ms(created), finishedAt: finished.map(ms), elapsedMs: finished == nil ? nil : 42)
    }

    static func batch(_ index: Int, state: String = "queued") -> BatchRecord {
        BatchRecord(index: index, images: ["img-\(index)-a", "img-\(index)-b"], state: state)
    }

    static func events(_ kinds: String...) -> [NewEvent] {
        kinds.map { NewEvent(kind: $0, data: "{\"k\":\"\($0)\"}") }
    }

    /// Admits a simple one-batch request and expects `.admitted`.
    static func admit(
        _ store: any GatewayStore, _ request: RequestRecord, limits: AdmissionLimits = limits
    ) async throws -> Admission {
        try await store.admit(request, batches: [batch(0)], attempts: [], limits: limits, events: events("admitted"))
    }
}

import Foundation
import Synchronization
import Testing

@testable import IMSClient

@Suite("TemporaryAccessKeyCredentialProvider")
struct TemporaryAccessKeyCredentialProviderTests {
    static func document(access: String, expiresIn seconds: TimeInterval = 3600) -> Data {
        let formatter = ISO8601DateFormatter()
        let object: [String: Any] = [
            "credential": [
                "access": access, "secret": "secret-of-\(access)", "securitytoken": "token-of-\(access)",
                "expires_at": formatter.string(from: Date().addingTimeInterval(seconds)),
            ]
        ]
        return (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
    }

    /// The access key and security token a signed request carries.
    static func signedWith(_ provider: TemporaryAccessKeyCredentialProvider) async throws -> (String?, String?) {
        var request = UpstreamRequest(method: "GET", url: "https://ims.example.com/v1/p/jobs/j")
        try await provider.authorize(&request, projectID: "0123456789abcdef0123456789abcdef")
        let authorization = request.headers.first { $0.name == "Authorization" }?.value
        let access = authorization.flatMap { AuthorizationHeader.parse($0)?.accessKey }
        return (access, request.headers.first { $0.name == AKSKSigner.securityTokenHeader }?.value)
    }

    @Test("keys rotated behind a Kubernetes-style symlink are picked up; a half-written file keeps the old keys")
    func rotation() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tc-\(UUID().uuidString)")
        let fileManager = FileManager.default
        try fileManager.createDirectory(at: directory.appendingPathComponent("v1"), withIntermediateDirectories: true)
        try fileManager.createDirectory(at: directory.appendingPathComponent("v2"), withIntermediateDirectories: true)
        defer { try? fileManager.removeItem(at: directory) }
        try Self.document(access: "AKONE").write(to: directory.appendingPathComponent("v1/credentials.json"))
        try Self.document(access: "AKTWO").write(to: directory.appendingPathComponent("v2/credentials.json"))
        // credentials.json -> ..data/credentials.json, ..data -> v1 (as a secret volume lays it out).
        try fileManager.createSymbolicLink(atPath: directory.appendingPathComponent("..data").path, withDestinationPath: "v1")
        let path = directory.appendingPathComponent("credentials.json").path
        try fileManager.createSymbolicLink(atPath: path, withDestinationPath: "..data/credentials.json")

        let changes = ChangeCounter()
        let provider = TemporaryAccessKeyCredentialProvider(path: path, onChange: { changes.increment() })
        #expect(try await Self.signedWith(provider) == ("AKONE", "token-of-AKONE"))

        try fileManager.removeItem(atPath: directory.appendingPathComponent("..data").path)
        try fileManager.createSymbolicLink(atPath: directory.appendingPathComponent("..data").path, withDestinationPath: "v2")
        #expect(try await Self.signedWith(provider) == ("AKTWO", "token-of-AKTWO"))
        #expect(changes.value == 1)

        // Rewritten in place and caught half way: the loaded keys go on serving.
        try Data("{\"credential\": {\"acc".utf8).write(to: directory.appendingPathComponent("v2/credentials.json"))
        #expect(try await Self.signedWith(provider) == ("AKTWO", "token-of-AKTWO"))
    }
}

final class ChangeCounter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

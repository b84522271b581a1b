import CurlHTTP
import Foundation
import IMSGateway
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGHUP to the built `ims-gateway serve` binary reloads its clients file: a rotated key takes
/// effect, requests already waiting are answered, and a broken file keeps the clients in force.
@Suite("clients file reload on SIGHUP", .serialized)
struct ClientsReloadTests {
    static let projectID = "edc89b490d7d4392898e19b2deb34797"
    static let imageID = "d164b5df-1bc3-4c3f-893e-3e471fd16e64"

    static func clients(_ keys: [String]) -> String {
        """
        clients:
          - name: reload-test
            key_sha256: [\(keys.map(ClientKey.sha256Hex).joined(separator: ", "))]
            projects: ["\(projectID)"]
            rate_limit: {rate: 100, burst: 100}
        """
    }

    @Test("a new key works after SIGHUP, the old one stops, waiting requests are answered; a broken file changes nothing")
    func reload() async throws {
        let binary = try ChildProcess.binary()
        let environment = ["IMSGW_IAM_PASSWORD": "reload-test-\(UInt64.random(in: 0...UInt64.max))"]
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("clients.yaml")
        let old = "reload-old-key-\(UInt64.random(in: 0...UInt64.max))"
        let new = "reload-new-key-\(UInt64.random(in: 0...UInt64.max))"
        try Self.clients([old]).write(to: file, atomically: true, encoding: .utf8)

        let simulator = try ChildProcess.start(
            binary, ["simulator", "--port", "0", "--job-duration-ms", "1500"], environment: environment)
        defer { simulator.kill() }
        let upstream = "http://127.0.0.1:\(try await simulator.port(logLine: "ims simulator listening"))"
        let gateway = try ChildProcess.start(
            binary,
            [
                "serve", "--port", "0", "--ims-url", upstream, "--iam-url", upstream, "--iam-domain", "demo-domain",
                "--iam-user", "demo-user", "--probe-project-id", Self.projectID, "--clients-file", file.path,
                "--poll-initial-ms", "200", "--poll-max-ms", "300",
            ],
            environment: environment)
        defer { gateway.kill() }
        let base = "http://127.0.0.1:\(try await gateway.port(logLine: "ims-gateway listening"))"
        let http = try CurlHTTPClient(configuration: .init(maxConnections: 32))
        defer { http.shutdown() }

        func accept(_ key: String) -> CurlHTTPRequest {
            CurlHTTPRequest(
                method: "POST", url: base + "/accept-images",
                headers: [
                    (name: "Content-Type", value: "application/json"), (name: "Authorization", value: "Bearer \(key)"),
                    (name: "Prefer", value: "wait=20"),
                ],
                body: Array(#"{"project_id":"\#(Self.projectID)","images":["\#(Self.imageID)"]}"#.utf8),
                timeoutMilliseconds: 30_000)
        }
        /// The status of a cheap authenticated call: 404 (known client) or 401.
        func probe(_ key: String) async throws -> Int {
            try await http.execute(CurlHTTPRequest(
                method: "GET", url: base + "/accept-images/none", headers: [(name: "Authorization", value: "Bearer \(key)")]
            )).status
        }

        #expect(try await probe(old) == 404)
        #expect(try await probe(new) == 401)
        let waiting = Task {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<10 { group.addTask { try await http.execute(accept(old)).status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        // All ten authenticated and waiting before the reload (however slow this machine is).
        let allWaiting = try await GracefulShutdownTests.poll(within: .seconds(20)) {
            let metrics = try await http.execute(CurlHTTPRequest(method: "GET", url: base + "/metrics"))
            return String(decoding: metrics.body, as: UTF8.self).contains("imsgw_callers_waiting 10.0")
        }
        #expect(allWaiting)
        try Self.clients([new]).write(to: file, atomically: true, encoding: .utf8)
        gateway.signal(SIGHUP)
        let rotated = try await GracefulShutdownTests.poll(within: .seconds(5)) { try await probe(new) == 404 }
        #expect(rotated, "the new key was not accepted after SIGHUP:\n\(gateway.log)")
        #expect(try await probe(old) == 401)
        #expect(gateway.isRunning)
        // Authenticated before the reload, they finish normally.
        #expect(try await waiting.value == Array(repeating: 200, count: 10))

        try "clients: [{name: broken".write(to: file, atomically: true, encoding: .utf8)
        gateway.signal(SIGHUP)
        let logged = try await GracefulShutdownTests.poll(within: .seconds(5)) {
            gateway.log.contains("clients file not reloaded")
        }
        #expect(logged, "no log line for the broken file:\n\(gateway.log)")
        #expect(try await probe(new) == 404)
        #expect(try await http.execute(accept(new)).status == 200)
    }
}

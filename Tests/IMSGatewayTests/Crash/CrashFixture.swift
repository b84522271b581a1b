import CurlHTTP
import Foundation
import GatewayStore
import IMSGateway
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The built simulator and any number of runs of the built `ims-gateway serve`, one after the
/// other (or side by side), all on one store file in a temporary folder: what a crash test
/// needs to kill a gateway and start the next one on the same state.
///
/// ``stop()`` kills every child (SIGTERM, then SIGKILL) and removes the folder; call it in a
/// `defer`, so that a failing test leaves nothing running.
final class CrashFixture {
    static let projectID = "edc89b490d7d4392898e19b2deb34797"
    /// Both shared with ``projectID`` by the simulator's demo catalogue: one batch of 2 images.
    static let imageIDs = ["d164b5df-1bc3-4c3f-893e-3e471fd16e64", "0b680482-acaa-4045-b14c-9a8c7dfe9c70"]
    /// The client's name in the clients file, as the store records it.
    static let clientName = "crash-test"

    let binary: URL
    let folder: TemporaryFolder
    /// The store file every gateway of the fixture uses (unless told otherwise).
    let storePath: String
    let clientKey: String
    let clientsFile: String
    let environment: [String: String]
    let simulator: ChildProcess
    /// The simulator's base URL, `http://127.0.0.1:PORT`.
    let upstream: String
    let http: CurlHTTPClient
    private var children: [ChildProcess] = []

    private init(
        binary: URL, folder: TemporaryFolder, clientKey: String, environment: [String: String], simulator: ChildProcess,
        upstream: String, http: CurlHTTPClient
    ) {
        self.binary = binary
        self.folder = folder
        self.storePath = folder.path("store.sqlite")
        self.clientKey = clientKey
        self.clientsFile = folder.path("clients.yaml")
        self.environment = environment
        self.simulator = simulator
        self.upstream = upstream
        self.http = http
        children = [simulator]
    }

    /// Starts the simulator, its jobs taking `jobDurationMs`, and writes the clients file.
    static func start(jobDurationMs: Int) async throws -> CrashFixture {
        let binary = try ChildProcess.binary()
        let folder = TemporaryFolder()
        let environment = ["IMSGW_IAM_PASSWORD": "crash-test-\(UInt64.random(in: 0...UInt64.max))"]
        let simulator = try ChildProcess.start(
            binary, ["simulator", "--port", "0", "--job-duration-ms", "\(jobDurationMs)"], environment: environment)
        let port: Int
        let http: CurlHTTPClient
        do {
            port = try await simulator.port(logLine: "ims simulator listening")
            http = try CurlHTTPClient(configuration: .init(maxConnections: 16))
        } catch {
            simulator.kill()
            folder.remove()
            throw error
        }
        let key = "crash-test-key-\(UInt64.random(in: 0...UInt64.max))"
        let fixture = CrashFixture(
            binary: binary, folder: folder, clientKey: key, environment: environment, simulator: simulator,
            upstream: "http://127.0.0.1:\(port)", http: http)
        do {
            try """
                clients:
                  - name: \(clientName)
                    key_sha256: [\(ClientKey.sha256Hex(key))]
                    projects: ["*"]
                    rate_limit: {rate: 100, burst: 100}
                """.write(toFile: fixture.clientsFile, atomically: true, encoding: .utf8)
        } catch {
            fixture.stop()
            throw error
        }
        return fixture
    }

    /// Kills every child still running and removes the folder with the store.
    func stop() {
        for child in children.reversed() { child.kill() }
        http.shutdown()
        folder.remove()
    }

    // MARK: - Gateways

    /// The arguments of `serve` in front of the simulator (polls every 300 to 500 ms, so that a
    /// test sees the first poll of a job soon after its submit).
    var serveArguments: [String] {
        [
            "serve", "--port", "0", "--ims-url", upstream, "--iam-url", upstream, "--iam-domain", "demo-domain",
            "--iam-user", "demo-user", "--probe-project-id", Self.projectID, "--clients-file", clientsFile,
            "--poll-initial-ms", "300", "--poll-max-ms", "500",
        ]
    }

    /// Starts `serve` on ``storePath`` (or `storeURL`) with `environment` added, without
    /// waiting for anything; the fixture kills it at the end.
    func launchGateway(environment extra: [String: String] = [:], storeURL: String? = nil) throws -> ChildProcess {
        var environment = environment.merging(extra) { $1 }
        environment["IMSGW_STORE_URL"] = storeURL ?? "sqlite:" + storePath
        let gateway = try ChildProcess.start(binary, serveArguments, environment: environment)
        children.append(gateway)
        return gateway
    }

    /// Starts `serve` on the fixture's store and waits until it listens and `/readyz` is 200.
    /// - Returns: the process and its base URL.
    func startGateway(environment extra: [String: String] = [:]) async throws -> (process: ChildProcess, base: String) {
        let gateway = try launchGateway(environment: extra)
        return (gateway, try await ready(gateway))
    }

    /// Waits until `gateway` listens and its `/readyz` is 200; returns its base URL.
    func ready(_ gateway: ChildProcess) async throws -> String {
        let base = "http://127.0.0.1:\(try await gateway.port(logLine: "ims-gateway listening"))"
        let ready = try await GracefulShutdownTests.poll(within: .seconds(20)) {
            try await self.http.execute(CurlHTTPRequest(method: "GET", url: base + "/readyz")).status == 200
        }
        guard ready else { throw ChildProcessError("the gateway did not become ready:\n\(gateway.log)") }
        return base
    }

    /// The lines of standard error starting with `ims-gateway: ` (what `serve` prints when it
    /// cannot start), once `gateway` has ended and its pipe has been read.
    func startFailureLines(_ gateway: ChildProcess) async throws -> [String] {
        func lines() -> [String] {
            gateway.log.split(separator: "\n").map(String.init).filter { $0.hasPrefix("ims-gateway: ") }
        }
        // The pipe is read on another thread: the last line may come a moment after the exit.
        _ = try await GracefulShutdownTests.poll(within: .seconds(3), every: .milliseconds(20)) { !lines().isEmpty }
        try await Task.sleep(for: .milliseconds(200))
        return lines()
    }

    /// Sends SIGKILL to `gateway` and waits until it is gone.
    func kill9(_ gateway: ChildProcess) async throws {
        gateway.signal(SIGKILL)
        guard try await gateway.waitForExit(within: .seconds(10)) else {
            throw ChildProcessError("the gateway did not die of SIGKILL")
        }
    }

    // MARK: - Requests

    /// `POST /accept-images` of ``imageIDs`` with `Idempotency-Key: key` and `Prefer: wait=N`.
    func accept(_ base: String, key: String, waitSeconds: Int = 20) -> CurlHTTPRequest {
        let images = Self.imageIDs.map { "\"\($0)\"" }.joined(separator: ",")
        return CurlHTTPRequest(
            method: "POST", url: base + "/accept-images",
            headers: [
                (name: "Content-Type", value: "application/json"), (name: "Authorization", value: "Bearer \(clientKey)"),
                (name: "Prefer", value: "wait=\(waitSeconds)"), (name: "Idempotency-Key", value: key),
            ],
            body: Array(#"{"project_id":"\#(Self.projectID)","images":[\#(images)]}"#.utf8),
            timeoutMilliseconds: (waitSeconds + 20) * 1000)
    }

    /// `GET /accept-images/{requestID}` as the fixture's client.
    func stored(_ base: String, requestID: String) -> CurlHTTPRequest {
        CurlHTTPRequest(
            method: "GET", url: base + "/accept-images/\(requestID)",
            headers: [(name: "Authorization", value: "Bearer \(clientKey)")], timeoutMilliseconds: 10_000)
    }

    /// The request in the background: its answer, or the transport error it ended with.
    func send(_ request: CurlHTTPRequest) -> Task<Result<CurlHTTPResponse, CurlHTTPError>, Never> {
        let http = self.http
        return Task {
            do throws(CurlHTTPError) {
                return .success(try await http.execute(request))
            } catch {
                return .failure(error)
            }
        }
    }

    // MARK: - The simulator

    /// Calls of `operation` the simulator has counted (`GET /_sim/stats`), answered or not.
    func calls(_ operation: String) async throws -> Int {
        let response = try await http.execute(CurlHTTPRequest(method: "GET", url: upstream + "/_sim/stats"))
        let stats = Self.object(response.body)
        return ((stats["calls"] as? [String: Any])?[operation] as? NSNumber)?.intValue ?? 0
    }

    /// One number of `GET /_sim/stats` (e.g. `max_calls_in_window`); 0 when absent.
    func stat(_ name: String) async throws -> Int {
        let response = try await http.execute(CurlHTTPRequest(method: "GET", url: upstream + "/_sim/stats"))
        return (Self.object(response.body)[name] as? NSNumber)?.intValue ?? 0
    }

    /// Rewrites the clients file with the fixture's client at `rate` requests per second and
    /// `burst` (before the gateways start: they read it then).
    func writeClients(rate: Double, burst: Int) throws {
        try """
            clients:
              - name: \(Self.clientName)
                key_sha256: [\(ClientKey.sha256Hex(clientKey))]
                projects: ["*"]
                rate_limit: {rate: \(rate), burst: \(burst)}
            """.write(toFile: clientsFile, atomically: true, encoding: .utf8)
    }

    /// The simulator's jobs in creation order (`GET /_sim/jobs`).
    func jobs() async throws -> [SimulatorJob] {
        let response = try await http.execute(CurlHTTPRequest(method: "GET", url: upstream + "/_sim/jobs"))
        return (Self.object(response.body)["jobs"] as? [[String: Any]] ?? []).map(SimulatorJob.init)
    }

    /// Replaces the simulator's fault plan (`PUT /_sim/faults`).
    func setFaults(_ json: String) async throws {
        let response = try await http.execute(CurlHTTPRequest(
            method: "PUT", url: upstream + "/_sim/faults", headers: [(name: "Content-Type", value: "application/json")],
            body: Array(json.utf8)))
        guard response.status == 200 else {
            throw ChildProcessError("PUT /_sim/faults: \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
    }

    /// Puts back the simulator's start-up fault plan (`DELETE /_sim/faults`).
    func clearFaults() async throws {
        let response = try await http.execute(CurlHTTPRequest(method: "DELETE", url: upstream + "/_sim/faults"))
        guard response.status == 200 else { throw ChildProcessError("DELETE /_sim/faults: \(response.status)") }
    }

    // MARK: - The store

    /// The request the fixture's client stored under `key`, read from the store file while no
    /// gateway holds it (the store is opened, read and closed again).
    func storedRequest(key: String) async throws -> StoredRequestSnapshot? {
        let store = try StoreOpener.open(url: "sqlite:" + storePath, migrate: false, logger: Logger(label: "crash-test"))
        defer { try? store.close() }
        return try await store.request(client: Self.clientName, idempotencyKey: key)
    }

    /// A JSON object, or an empty one.
    static func object(_ body: [UInt8]) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }
}

/// One job of `GET /_sim/jobs`.
struct SimulatorJob {
    var id: String
    var images: [String]
    var status: String
    /// Unix epoch milliseconds, wall clock.
    var createdAt: Int64
    /// ShowJob and ShowJobProgress calls naming the job.
    var polls: Int

    init(_ document: [String: Any]) {
        id = document["job_id"] as? String ?? ""
        images = document["images"] as? [String] ?? []
        status = document["status"] as? String ?? ""
        createdAt = (document["created_at"] as? NSNumber)?.int64Value ?? 0
        polls = (document["polls"] as? NSNumber)?.intValue ?? 0
    }
}

/// The parts of an answer document a crash test compares.
struct AnswerDocument {
    var document: [String: Any]

    init(_ response: CurlHTTPResponse) {
        document = CrashFixture.object(response.body)
    }

    var requestID: String? { document["request_id"] as? String }
    var outcome: String? { document["outcome"] as? String }
    var warnings: [String] { document["warnings"] as? [String] ?? [] }
    var batches: [[String: Any]] { document["batches"] as? [[String: Any]] ?? [] }
    var jobIDs: [String] { batches.compactMap { $0["job_id"] as? String } }
    var submitAttempts: [Int] { batches.compactMap { ($0["submit_attempts"] as? NSNumber)?.intValue } }
    var batchStates: [String] { batches.compactMap { $0["state"] as? String } }
}

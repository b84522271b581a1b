import CurlHTTP
import GatewayStore
import Foundation
import IMSClient
import IMSGateway
import IMSSimulator
import Logging

/// The simulator and the gateway, both real servers on loopback ports, plus a libcurl client
/// to call them. Lives for one ``withGateway(simulator:gateway:_:)`` call.
struct GatewayHarness: Sendable {
    let simulator: InProcessServer
    let gateway: InProcessServer
    let http: CurlHTTPClient
    /// The gateway's store (a real SQLite file).
    let store: SQLiteGatewayStore

    /// A parsed answer of the gateway.
    struct Answer: Sendable {
        let status: Int
        let headers: [(name: String, value: String)]
        let body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        /// The body as a JSON object (empty when it is not one).
        var json: [String: Any] {
            ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]) ?? [:]
        }

        /// The body decoded as the result document.
        func result() throws -> MemberStatusResult {
            try JSONDecoder().decode(MemberStatusResult.self, from: Data(body))
        }
    }

    /// POSTs `body` (raw bytes) to the gateway as the client of `key` (none when nil).
    func post(
        _ path: String, raw body: [UInt8], contentType: String? = "application/json", headers: [(String, String)] = [],
        key: String? = testClientKey
    ) async throws -> Answer {
        var fields = headers.map { (name: $0.0, value: $0.1) }
        if let contentType { fields.append((name: "Content-Type", value: contentType)) }
        if let key { fields.append((name: "Authorization", value: "Bearer \(key)")) }
        let response = try await http.execute(CurlHTTPRequest(
            method: "POST", url: gateway.baseURL + path, headers: fields, body: body, timeoutMilliseconds: 120_000))
        return Answer(status: response.status, headers: response.headers, body: response.body)
    }

    /// POSTs a JSON object to the gateway as the client of `key` (none when nil).
    func post(
        _ path: String, json: [String: Any], headers: [(String, String)] = [], key: String? = testClientKey
    ) async throws -> Answer {
        let data = try JSONSerialization.data(withJSONObject: json)
        return try await post(path, raw: Array(data), headers: headers, key: key)
    }

    /// GET on the gateway, as the client of `key` when given.
    func get(_ path: String, key: String? = nil, headers extra: [(String, String)] = []) async throws -> Answer {
        let headers = (key.map { [(name: "Authorization", value: "Bearer \($0)")] } ?? []) + extra.map { (name: $0.0, value: $0.1) }
        let response = try await http.execute(CurlHTTPRequest(method: "GET", url: gateway.baseURL + path, headers: headers))
        return Answer(status: response.status, headers: response.headers, body: response.body)
    }

    /// The stored outcome of an earlier request (`GET <route>/{request_id}` as the test
    /// client), asked again every `interval` while it is still running (202), at most until
    /// `timeout` has passed.
    /// - Returns: the first answer that is not a 202, or the last 202 when `timeout` passed.
    func storedOutcome(
        _ route: String = "/accept-images", requestID: String, timeout: Duration = .seconds(10),
        interval: Duration = .milliseconds(100)
    ) async throws -> Answer {
        let giveUp = ContinuousClock.now.advanced(by: timeout)
        while true {
            let answer = try await get("\(route)/\(requestID)", key: testClientKey)
            guard answer.status == 202, ContinuousClock.now < giveUp else { return answer }
            try await Task.sleep(for: interval)
        }
    }

    /// The simulator's call counter for `operation` (e.g. `BatchUpdateMembers`, `ShowJob`).
    func simulatorCalls(_ operation: String) async throws -> Int {
        try await simulatorStats()["calls"].flatMap { ($0 as? [String: Any])?[operation] as? Int } ?? 0
    }

    /// Sum of all the simulator's call counters.
    func simulatorCallsTotal() async throws -> Int {
        let calls = try await simulatorStats()["calls"] as? [String: Any] ?? [:]
        return calls.values.compactMap { $0 as? Int }.reduce(0, +)
    }

    func simulatorStats() async throws -> [String: Any] {
        let response = try await http.execute(CurlHTTPRequest(method: "GET", url: simulator.baseURL + "/_sim/stats"))
        return ((try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]) ?? [:]
    }

    /// How many times the simulator injected the fault `name` (`faults_injected` of
    /// `/_sim/stats`, e.g. `http_error`, `not_found`, `status_word`); 0 when never.
    func faultsInjected(_ name: String) async throws -> Int {
        try await simulatorStats()["faults_injected"].flatMap { ($0 as? [String: Any])?[name] as? Int } ?? 0
    }

    /// Replaces the simulator's fault plan (`PUT /_sim/faults`, the JSON form of
    /// `FaultPlan.init(json:over:)`); counts and the job-duration sequence start afresh.
    /// - Returns: the plan as the simulator now runs it.
    /// - Throws: ``SimulatorControlError`` when the simulator refuses the plan (its 400 names the field).
    @discardableResult
    func setFaults(_ json: [String: Any]) async throws -> [String: Any] {
        let body = Array(try JSONSerialization.data(withJSONObject: json))
        return try await simulatorControl("PUT", "/_sim/faults", body: body)
    }

    /// The simulator's running fault plan, each fault with its `remaining` count (`GET /_sim/faults`).
    func simulatorFaults() async throws -> [String: Any] {
        try await simulatorControl("GET", "/_sim/faults")
    }

    /// One job's measures as the simulator keeps them (`GET /_sim/jobs/{job_id}`): `status`,
    /// `created_at`, `duration_ms`, `ends_at`, `ended_at`, `polls`, `first_final_poll_at`,
    /// `faults`, `vault_id`, ... (times in Unix epoch milliseconds, `NSNull` when unknown).
    /// - Throws: ``SimulatorControlError`` when the simulator knows no such job.
    func simulatorJob(_ jobID: String) async throws -> [String: Any] {
        try await simulatorControl("GET", "/_sim/jobs/\(jobID)")
    }

    /// Every job's measures, in creation order (`GET /_sim/jobs`).
    func simulatorJobs() async throws -> [[String: Any]] {
        try await simulatorControl("GET", "/_sim/jobs")["jobs"] as? [[String: Any]] ?? []
    }

    private func simulatorControl(_ method: String, _ path: String, body: [UInt8] = []) async throws -> [String: Any] {
        let headers = body.isEmpty ? [] : [(name: "Content-Type", value: "application/json")]
        let response = try await http.execute(CurlHTTPRequest(
            method: method, url: simulator.baseURL + path, headers: headers, body: body))
        let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
        guard response.status == 200, let json else {
            throw SimulatorControlError(
                method: method, path: path, status: response.status, body: String(decoding: response.body, as: UTF8.self))
        }
        return json
    }
}

/// The simulator refused a control call (`/_sim/...`).
struct SimulatorControlError: Error, CustomStringConvertible {
    let method: String
    let path: String
    let status: Int
    let body: String

    var description: String { "\(method) \(path): HTTP \(status) \(body)" }
}

/// The key of the client every harness gateway knows (``testClients``).
let testClientKey = "test-client-key-0123456789abcdef"

/// The harness gateway's clients: `tester` (key ``testClientKey``), every project, a rate
/// limit high enough never to get in the way.
let testClients = ClientRegistry(entries: [
    ClientEntry(
        identity: ClientIdentity(name: "tester", projects: .all, rateLimit: ClientRateLimit(rate: 100_000, burst: 100_000)),
        keys: [testClientKey]),
    ClientEntry(
        identity: ClientIdentity(name: "other", projects: .all, rateLimit: ClientRateLimit(rate: 100_000, burst: 100_000)),
        keys: [otherClientKey]),
])

/// The key of a second client (`other`), for the requests one client must not see of another.
let otherClientKey = "other-client-key-0123456789abcdef"

/// The member project every harness test uses.
let testProjectID = "0123456789abcdef0123456789abcdef"

/// `count` distinct lower-case UUIDs, the same for the same `seed`.
func testImages(_ count: Int, seed: Int = 0) -> [String] {
    (0..<count).map { index in
        let hex = String(seed * 1_000_000 + index, radix: 16)
        return "d164b5df-1bc3-4c3f-893e-" + String(repeating: "0", count: max(0, 12 - hex.count)) + hex
    }
}

/// A logger that drops everything (the tests assert answers, not log lines).
let quietLogger = Logger(label: "ims-gateway-tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// The gateway's logger in tests: quiet, or at `HARNESS_LOG` level on standard error.
let gatewayLogger: Logger = {
    guard let level = ProcessInfo.processInfo.environment["HARNESS_LOG"].flatMap(Logger.Level.init(rawValue:)) else {
        return quietLogger
    }
    var logger = Logger(label: "ims-gateway", factory: { StreamLogHandler.standardError(label: $0) })
    logger.logLevel = level
    return logger
}()

/// Runs a simulator sharing `shared` images with ``testProjectID`` and a gateway in front of
/// it, both on loopback, for the duration of `body`.
/// - Parameters:
///   - shared: images the simulator shares with the test project.
///   - jobDuration: how long each simulated job runs.
///   - tokenLifetimeSeconds: lifetime of the simulator's IAM tokens.
///   - accessKeys: access keys the simulated IMS accepts (AK/SK tests).
///   - wholeMachineImages: images the simulator treats as whole-machine (CBR) images: a job
///     accepting one without `vault_id` ends FAIL (IMG.0197).
///   - logger: the gateway's logger (default: quiet, or `HARNESS_LOG`).
///   - storePath: the SQLite store file (default: a new one in a temporary folder, deleted
///     after); a test that restarts the gateway passes the same path twice.
///   - adjust: changes to the gateway configuration (fast polls are already set).
func withGateway<Value: Sendable>(
    shared: [String],
    jobDuration: Duration = .milliseconds(300),
    tokenLifetimeSeconds: Int = 86_400,
    accessKeys: [SimulatorConfiguration.AccessKey] = [],
    wholeMachineImages: Set<String> = [],
    logger: Logger? = nil,
    storePath: String? = nil,
    adjust: (inout GatewayConfiguration) -> Void = { _ in },
    _ body: (GatewayHarness) async throws -> Value
) async throws -> Value {
    let password = "test-password-\(UInt64.random(in: 0...UInt64.max))"
    var simulatorConfiguration = SimulatorConfiguration(
        users: [.init(domainName: "test-domain", name: "test-user", password: password)],
        sharedImages: [testProjectID: Set(shared)],
        jobDuration: jobDuration, tokenLifetimeSeconds: tokenLifetimeSeconds)
    simulatorConfiguration.accessKeys = accessKeys
    simulatorConfiguration.wholeMachineImages = wholeMachineImages
    let gatewayLogger = logger ?? gatewayLogger
    let simulator = try await InProcessServer.start(logger: quietLogger) { onRunning in
        IMSSimulator.buildApplication(configuration: simulatorConfiguration, logger: quietLogger, onServerRunning: onRunning)
    }
    var configuration = GatewayConfiguration(
        imsBaseURL: simulator.baseURL, iamBaseURL: simulator.baseURL,
        credentials: .password(.init(domainName: "test-domain", userName: "test-user", password: password)))
    // No readiness probe unless a test asks for one: the simulator's counters then show only
    // what the requests under test caused.
    configuration.port = 0
    configuration.clientAuthentication = .clients(testClients)
    // A budget that never gets in the way, unless a test sets its own.
    configuration.upstreamRate = 10_000
    configuration.upstreamBurst = 10_000
    configuration.pollSchedule = PollSchedule(
        initialDelay: .milliseconds(100), growthFactor: 1.5, maxDelay: .milliseconds(400), jitter: 0.1,
        finalPollMargin: .milliseconds(50))
    adjust(&configuration)
    // The test's own client, separate from the gateway's (sharing one would make the test's
    // callers and the gateway's upstream calls compete for the same connection slots), with
    // enough connections for every caller of a test to be in flight at once.
    let http = try CurlHTTPClient(configuration: .init(maxConnections: 512))
    let upstream = try CurlHTTPClient(configuration: .init(maxConnections: configuration.maxUpstreamTransfers))
    let finalConfiguration = configuration
    let temporaryStore = storePath == nil ? TemporaryFolder() : nil
    let path = storePath ?? temporaryStore!.path("store.sqlite")
    let gateway: InProcessServer
    let store: SQLiteGatewayStore
    do {
        store = try StoreOpener.open(url: "sqlite:" + path, logger: quietLogger)
        let recovered = try await RecoveredRequests.load(
            from: store, submitTimeout: .milliseconds(finalConfiguration.upstreamTimeoutMilliseconds))
        gateway = try await InProcessServer.start(logger: quietLogger) { onRunning in
            GatewayApplication.build(
                configuration: finalConfiguration, http: upstream, store: store, recovered: recovered,
                logger: gatewayLogger, onServerRunning: onRunning)
        }
    } catch {
        await simulator.stop()
        upstream.shutdown()
        http.shutdown()
        throw error
    }
    let harness = GatewayHarness(simulator: simulator, gateway: gateway, http: http, store: store)
    let result: Result<Value, any Error>
    do {
        result = .success(try await body(harness))
    } catch {
        result = .failure(error)
    }
    await gateway.stop()
    await simulator.stop()
    upstream.shutdown()
    http.shutdown()
    try? store.close()
    temporaryStore?.remove()
    return try result.get()
}

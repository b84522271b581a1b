import CurlHTTP
import IMSGateway
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGTERM to the built `ims-gateway serve` binary, in front of the built simulator, both child
/// processes on loopback ports: waiting callers get complete answers, the process exits 0.
@Suite("graceful shutdown", .serialized)
struct GracefulShutdownTests {
    static let projectID = "edc89b490d7d4392898e19b2deb34797"
    /// Shared with ``projectID`` by the simulator's demo catalogue.
    static let imageID = "d164b5df-1bc3-4c3f-893e-3e471fd16e64"
    static let callers = 50

    @Test("SIGTERM: readiness 503 at once, new requests refused, 50 waiting callers answered 504 with job ids at the drain deadline, exit 0")
    func drainDeadlineCutsWaits() async throws {
        let drainTimeout = 2
        try await Self.sigtermWhileWaiting(jobDurationMs: 4000, drainTimeoutSeconds: drainTimeout) { shutdown in
            // Not at the callers' own 30 s deadline: at the drain deadline.
            #expect(shutdown.answeredAfter < .seconds(drainTimeout + 2), "answered \(shutdown.answeredAfter) after SIGTERM")
            #expect(shutdown.answeredAfter > .seconds(drainTimeout) - .milliseconds(500))
            // The jobs run 4 s and the drain ends 2 s after SIGTERM (a job submitted well
            // before the others may have ended in time: 200).
            #expect(shutdown.statuses[504, default: 0] > 0)
            #expect(shutdown.exitedAfter < .seconds(drainTimeout + 5))
        }
    }

    @Test("SIGTERM: waits that end within the drain timeout are answered 200, and the process exits once they are")
    func waitsFinishWithinDrain() async throws {
        let drainTimeout = 20
        try await Self.sigtermWhileWaiting(jobDurationMs: 1500, drainTimeoutSeconds: drainTimeout) { shutdown in
            #expect(shutdown.statuses == [200: Self.callers])
            // The drain ends when the last caller is answered, long before its timeout.
            #expect(shutdown.exitedAfter < .seconds(8), "exited \(shutdown.exitedAfter) after SIGTERM")
        }
    }

    /// What a shutdown looked like from outside.
    struct Shutdown {
        /// HTTP statuses of the waiting callers' answers, counted.
        var statuses: [Int: Int]
        /// From SIGTERM to the last waiting caller's answer.
        var answeredAfter: Duration
        /// From SIGTERM to the gateway's exit.
        var exitedAfter: Duration
    }

    /// Starts the simulator (jobs of `jobDurationMs`) and the gateway (`drainTimeoutSeconds`)
    /// as child processes, makes ``callers`` accept requests wait, sends the gateway SIGTERM and
    /// checks what every shutdown must do: `/readyz` 503 at once, a new request refused, every
    /// caller answered 200 or 504 with its job id, exit status 0. Then `check` looks at the rest.
    /// Both children are killed at the end in any case.
    static func sigtermWhileWaiting(
        jobDurationMs: Int, drainTimeoutSeconds: Int, check: (Shutdown) throws -> Void
    ) async throws {
        let binary = try ChildProcess.binary()
        let environment = ["IMSGW_IAM_PASSWORD": "drain-test-\(UInt64.random(in: 0...UInt64.max))"]
        let simulator = try ChildProcess.start(
            binary, ["simulator", "--port", "0", "--job-duration-ms", "\(jobDurationMs)"], environment: environment)
        defer { simulator.kill() }
        let simulatorPort = try await simulator.port(logLine: "ims simulator listening")
        let upstream = "http://127.0.0.1:\(simulatorPort)"
        let clientKey = "drain-test-key-\(UInt64.random(in: 0...UInt64.max))"
        let clientsFile = FileManager.default.temporaryDirectory.appendingPathComponent("clients-\(UUID().uuidString).yaml")
        try """
            clients:
              - name: drain-test
                key_sha256: [\(ClientKey.sha256Hex(clientKey))]
                projects: ["*"]
                rate_limit: {rate: 100, burst: \(callers)}
            """.write(to: clientsFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: clientsFile) }
        let gateway = try ChildProcess.start(
            binary,
            [
                "serve", "--port", "0", "--ims-url", upstream, "--iam-url", upstream, "--iam-domain", "demo-domain",
                "--iam-user", "demo-user", "--probe-project-id", projectID,
                "--drain-timeout-seconds", "\(drainTimeoutSeconds)", "--clients-file", clientsFile.path,
                // 50 submits at once: a budget above the default 2 per second.
                "--upstream-rate", "1000", "--upstream-burst", "1000",
            ],
            environment: environment)
        defer { gateway.kill() }
        let gatewayPort = try await gateway.port(logLine: "ims-gateway listening")
        let base = "http://127.0.0.1:\(gatewayPort)"

        let http = try CurlHTTPClient(configuration: .init(maxConnections: 128))
        defer { http.shutdown() }
        let ready = try await poll(within: .seconds(60)) {
            try await http.execute(CurlHTTPRequest(method: "GET", url: base + "/readyz")).status == 200
        }
        try #require(ready, "the gateway did not become ready:\n\(gateway.log)")

        let body = Array(#"{"project_id":"\#(projectID)","images":["\#(imageID)"]}"#.utf8)
        let accept = CurlHTTPRequest(
            method: "POST", url: base + "/accept-images",
            headers: [
                (name: "Content-Type", value: "application/json"), (name: "Prefer", value: "wait=30"),
                (name: "Authorization", value: "Bearer \(clientKey)"),
            ],
            body: body, timeoutMilliseconds: 60_000)
        let answers = Task {
            await withTaskGroup(of: Result<CurlHTTPResponse, CurlHTTPError>.self) { group in
                for _ in 0..<callers {
                    group.addTask {
                        do throws(CurlHTTPError) {
                            return .success(try await http.execute(accept))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                var all: [Result<CurlHTTPResponse, CurlHTTPError>] = []
                for await answer in group { all.append(answer) }
                return all
            }
        }

        // Every caller is waiting once the simulator has seen every submit.
        let allWaiting = try await poll(within: .seconds(15)) {
            try await submits(http, upstream) >= callers
        }
        #expect(allWaiting, "not every request was submitted:\n\(gateway.log)")
        try await Task.sleep(for: .milliseconds(200))

        let signalled = ContinuousClock.now
        gateway.signal(SIGTERM)

        // The signal is handled asynchronously: /readyz stops being 200 within moments.
        var readyzAfterSignal = 200
        _ = try await poll(within: .seconds(5), every: .milliseconds(10)) {
            readyzAfterSignal = await status(http, CurlHTTPRequest(method: "GET", url: base + "/readyz"))
            return readyzAfterSignal != 200
        }
        #expect(readyzAfterSignal == 503 || readyzAfterSignal == connectionRefused, "/readyz after SIGTERM: \(readyzAfterSignal)")
        #expect(signalled.duration(to: .now) < .seconds(5))

        // A new request is refused with 503 and Retry-After, or finds the port closed.
        do throws(CurlHTTPError) {
            let refused = try await http.execute(accept)
            #expect(refused.status == 503, "a new request after SIGTERM: \(refused.status)")
            #expect(refused.header("Retry-After") != nil)
            #expect(refused.header("Content-Type") == "application/problem+json")
        } catch {
            #expect(error.code == .connectFailed, "a new request after SIGTERM: \(error)")
        }

        // Every waiting caller gets a complete answer: 200, or 504 with the job id of its batch.
        let results = await answers.value
        let answeredAfter = signalled.duration(to: .now)
        #expect(results.count == callers)
        var statuses: [Int: Int] = [:]
        for result in results {
            switch result {
            case .failure(let error):
                Issue.record("a waiting caller got no answer: \(error)")
            case .success(let response):
                statuses[response.status, default: 0] += 1
                #expect([200, 504].contains(response.status), "status \(response.status)")
                let document = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
                let batches = document["batches"] as? [[String: Any]] ?? []
                #expect(batches.count == 1)
                #expect(batches.allSatisfy { ($0["job_id"] as? String)?.isEmpty == false }, "no job id: \(document)")
                if response.status == 504 {
                    #expect(document["outcome"] as? String == "timed_out")
                    #expect(batches.allSatisfy { $0["state"] as? String == "pending" })
                }
            }
        }

        let exited = try await poll(within: .seconds(drainTimeoutSeconds + 10), every: .milliseconds(50)) {
            !gateway.isRunning
        }
        let exitedAfter = signalled.duration(to: .now)
        try #require(exited, "the gateway did not exit:\n\(gateway.log)")
        #expect(gateway.terminationStatus == 0, "exit status \(gateway.terminationStatus):\n\(gateway.log)")
        try check(Shutdown(statuses: statuses, answeredAfter: answeredAfter, exitedAfter: exitedAfter))
    }

    /// What ``status(_:_:)`` reports for a refused connection.
    static let connectionRefused = -1

    /// The HTTP status of `request`, or ``connectionRefused``, or -2 for another transport error.
    static func status(_ http: CurlHTTPClient, _ request: CurlHTTPRequest) async -> Int {
        do throws(CurlHTTPError) {
            return try await http.execute(request).status
        } catch {
            return error.code == .connectFailed ? connectionRefused : -2
        }
    }

    /// BatchUpdateMembers calls the simulator has answered.
    static func submits(_ http: CurlHTTPClient, _ simulator: String) async throws -> Int {
        let response = try await http.execute(CurlHTTPRequest(method: "GET", url: simulator + "/_sim/stats"))
        let stats = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        return (stats["calls"] as? [String: Any])?["BatchUpdateMembers"] as? Int ?? 0
    }

    /// Evaluates `condition` every `every` until it holds or `limit` passes; returns whether it held.
    static func poll(
        within limit: Duration, every pause: Duration = .milliseconds(100), _ condition: () async throws -> Bool
    ) async throws -> Bool {
        let end = ContinuousClock.now.advanced(by: limit)
        while true {
            if (try? await condition()) == true { return true }
            guard ContinuousClock.now < end else { return false }
            try await Task.sleep(for: pause)
        }
    }
}

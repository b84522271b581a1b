import ArgumentParser
import CurlHTTP
import Foundation
import GatewayStore
import IMSClient
import IMSGateway
import IMSSimulator
import Logging

/// `ims-gateway demo`: the whole product in one process, against the simulator.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start the simulator and the gateway on loopback, accept three images, print the result.",
        discussion: """
            Accepts the two images of the IMS documentation example, which the simulator shares with the \
            demo project, plus one image that is not shared, in batches of two: one job ends SUCCESS and one \
            FAIL. Exits 0 when the gateway answers exactly that (HTTP 502, outcome partially_failed).
            """)

    static let sharedImages = ["d164b5df-1bc3-4c3f-893e-3e471fd16e64", "0b680482-acaa-4045-b14c-9a8c7dfe9c70"]
    static let notSharedImage = "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"

    @Option(name: .customLong("job-duration-ms"), help: "How long each simulated job runs, in milliseconds.")
    var jobDurationMs = 2000
    @Option(name: .customLong("log-level"), help: "Log level of the gateway and simulator.")
    var logLevel = "warning"

    func run() async throws {
        let logger: Logger
        do {
            logger = try Logging.bootstrapped(level: logLevel)
        } catch {
            throw CommandFailure.configuration("\(error)").exit()
        }
        var generator = SystemRandomNumberGenerator()
        let password = (0..<4).map { _ in String(generator.next() as UInt64, radix: 36) }.joined()
        let simulator = try await InProcessServer.start { onRunning in
            IMSSimulator.buildApplication(
                configuration: .demo(password: password, jobDuration: .milliseconds(jobDurationMs)),
                logger: logger, onServerRunning: onRunning)
        }
        var configuration = GatewayConfiguration(
            imsBaseURL: simulator.baseURL, iamBaseURL: simulator.baseURL,
            credentials: .password(.init(domainName: "demo-domain", userName: "demo-user", password: password)),
            probeProjectID: SimulatorConfiguration.demoProjectID)
        configuration.port = 0
        // A client key made for this run, as `hash-key` makes them: the demo calls the gateway
        // the way every client does.
        let clientKey = ClientKey.generate()
        configuration.clientAuthentication = .clients(ClientRegistry(entries: [
            ClientEntry(
                identity: ClientIdentity(
                    name: "demo", projects: .only([SimulatorConfiguration.demoProjectID]), rateLimit: configuration.defaultClientRateLimit),
                keys: [clientKey])
        ]))
        configuration.maxImagesPerJob = 2
        configuration.pollSchedule = .init(initialDelay: .milliseconds(500), growthFactor: 1.5, maxDelay: .seconds(2))
        // A temporary store: the demo leaves nothing behind.
        let storeFolder = FileManager.default.temporaryDirectory.appendingPathComponent("ims-gateway-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: storeFolder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: storeFolder) }
        let store = try StoreOpener.open(url: "sqlite:" + storeFolder.appendingPathComponent("demo.sqlite").path, logger: logger)
        defer { try? store.close() }
        let http = try CurlHTTPClient()
        let gateway = try await InProcessServer.start { onRunning in
            GatewayApplication.build(
                configuration: configuration, http: http, store: store, logger: logger, onServerRunning: onRunning)
        }
        defer { http.shutdown() }

        let body: [String: Any] = [
            "project_id": SimulatorConfiguration.demoProjectID,
            "images": Self.sharedImages + [Self.notSharedImage],
        ]
        let bodyBytes = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        print("POST \(gateway.baseURL)/accept-images  (IMS and IAM simulated at \(simulator.baseURL))")
        print(String(decoding: bodyBytes, as: UTF8.self))
        print("")
        let response = try await http.execute(CurlHTTPRequest(
            method: "POST", url: gateway.baseURL + "/accept-images",
            headers: [("Content-Type", "application/json"), ("Prefer", "wait=60"), ("Authorization", "Bearer \(clientKey)")],
            body: Array(bodyBytes), timeoutMilliseconds: 90_000))
        await gateway.stop()
        await simulator.stop()

        guard let result = try? JSONDecoder().decode(MemberStatusResult.self, from: Data(response.body)) else {
            print("HTTP \(response.status): \(String(decoding: response.body, as: UTF8.self))")
            throw ExitCode.failure
        }
        print(DemoReport.table(status: response.status, result: result))
        print("")
        print(DemoReport.prettyJSON(response.body))
        let expected = response.status == 502 && result.outcome == .partiallyFailed
            && result.batches.map(\.state) == [.succeeded, .failed]
        print("")
        if expected {
            print("demo: OK - one batch succeeded, one failed with its reason, as expected")
        } else {
            print("demo: UNEXPECTED - wanted HTTP 502 with outcome partially_failed (batches succeeded, failed)")
            throw ExitCode.failure
        }
    }
}

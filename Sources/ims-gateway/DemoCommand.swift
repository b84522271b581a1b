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
    @Option(
        name: .customLong("portal"),
        help: ArgumentHelp(
            "After the demo, keep the simulator and the gateway running for the example portal page served on this port (examples/portal/backend.py --port PORT): CORS allows http://127.0.0.1:PORT and browser tokens are on. Ctrl-C stops.",
            valueName: "port"))
    var portalPort: Int?

    func validate() throws {
        if let portalPort, !(1...65535).contains(portalPort) { throw ValidationError("--portal must be a port from 1 to 65535") }
    }

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
        if let portalPort {
            configuration.corsAllowedOrigins = ["http://127.0.0.1:\(portalPort)"]
            configuration.browserTokensSecret = (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }.joined() + "-demo-secret"
        }
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
        if portalPort == nil {
            await gateway.stop()
            await simulator.stop()
        }

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
            if portalPort != nil {
                await gateway.stop()
                await simulator.stop()
            }
            throw ExitCode.failure
        }
        if let portalPort {
            try await servePortal(port: portalPort, gateway: gateway.baseURL, clientKey: clientKey, folder: storeFolder)
            await gateway.stop()
            await simulator.stop()
        }
    }

    /// Keeps the simulator and the gateway running for the example portal until SIGINT or
    /// SIGTERM. The demo client's key goes into a file readable by its owner only, never to
    /// the terminal.
    private func servePortal(port: Int, gateway: String, clientKey: String, folder: URL) async throws {
        let keyFile = folder.appendingPathComponent("portal-client-key")
        FileManager.default.createFile(
            atPath: keyFile.path, contents: Data(clientKey.utf8), attributes: [.posixPermissions: 0o600])
        print("")
        print("portal: the gateway goes on at \(gateway) (CORS allows http://127.0.0.1:\(port), browser tokens on).")
        print("portal: in another shell, from the repository's root:")
        print("  PORTAL_CLIENT_KEY=$(cat \(keyFile.path)) python3 examples/portal/backend.py --port \(port) --gateway \(gateway)")
        print("portal: then open http://127.0.0.1:\(port)/ and accept, for project \(SimulatorConfiguration.demoProjectID),")
        print("portal: the images \(Self.sharedImages.joined(separator: " ")) (one per line). Ctrl-C stops the demo.")
        fflush(nil)  // every output stream: the process now waits, its lines must show
        await Self.untilInterrupted()
        print("portal: stopped")
    }

    /// Returns at the first SIGINT or SIGTERM.
    private static func untilInterrupted() async {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let queue = DispatchQueue(label: "demo-signals")
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = DemoSignalOnce(continuation)
            for number in [SIGINT, SIGTERM] {
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler { once.resume() }
                source.resume()
                once.keep(source)
            }
        }
    }
}

/// Resumes a continuation once, and keeps the signal sources alive until then.
private final class DemoSignalOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Void, Never>?
    private var sources: [any DispatchSourceSignal] = []

    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }

    func keep(_ source: any DispatchSourceSignal) { lock.withLock { sources.append(source) } }

    func resume() {
        let taken = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            defer { continuation = nil; sources.forEach { $0.cancel() } }
            return continuation
        }
        taken?.resume()
    }
}

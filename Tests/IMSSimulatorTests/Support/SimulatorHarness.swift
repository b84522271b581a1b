import CurlHTTP
import IMSSimulator
import Logging

/// Runs the simulator with `configuration` on a loopback port for the duration of `body`,
/// which gets a libcurl client and the simulator's base URL; stops both afterwards.
func withRunningSimulator(
    _ configuration: SimulatorConfiguration,
    _ body: (_ http: CurlHTTPClient, _ baseURL: String) async throws -> Void
) async throws {
    let logger = Logger(label: "sim-tests", factory: { _ in SwiftLogNoOpLogHandler() })
    let server = try await InProcessServer.start(logger: logger) { onRunning in
        IMSSimulator.buildApplication(configuration: configuration, logger: logger, onServerRunning: onRunning)
    }
    let http = try CurlHTTPClient()
    let outcome: Result<Void, any Error>
    do {
        try await body(http, server.baseURL)
        outcome = .success(())
    } catch {
        outcome = .failure(error)
    }
    await server.stop()
    http.shutdown()
    try outcome.get()
}

import Hummingbird
import Logging
import NIOCore

/// A stand-in for Huawei Cloud IAM and IMS that speaks their paths, bodies, errors and job life
/// cycle (docs/IMS-API.md), for tests, benchmarks and the demo. Its own endpoints live under
/// `/_sim/`: counters (`GET /_sim/stats`), per-job measures (`GET /_sim/jobs/{job_id}`) and
/// fault injection (`GET|PUT|DELETE /_sim/faults`), never a header the gateway would pass on.
public enum IMSSimulator {
    /// Builds the simulator as a Hummingbird application.
    /// - Parameters:
    ///   - configuration: users, catalogue, timings and the start-up fault plan.
    ///   - host: address to listen on, e.g. `127.0.0.1`.
    ///   - port: TCP port; 0 picks a free one.
    ///   - logger: the simulator's logger.
    ///   - onServerRunning: called with the bound port once listening.
    public static func buildApplication(
        configuration: SimulatorConfiguration,
        host: String = "127.0.0.1",
        port: Int = 0,
        logger: Logger = Logger(label: "ims-simulator"),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let state = SimulatorState(configuration: configuration)
        let router = Router(context: SimulatorRequestContext.self)
        IAMController(state: state).addRoutes(to: router)
        IMSController(state: state).addRoutes(to: router)
        ControlController(state: state).addRoutes(to: router)
        FaultController(state: state).addRoutes(to: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "ims-simulator"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}

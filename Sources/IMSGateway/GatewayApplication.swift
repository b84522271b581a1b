import CurlHTTP
import Foundation
import Hummingbird
import IMSClient
import Logging

/// Builds the gateway: the one place where its parts are put together (also the test seam).
public enum GatewayApplication {
    /// Builds the gateway as a Hummingbird application.
    /// - Parameters:
    ///   - configuration: every setting.
    ///   - http: the libcurl client for all upstream calls; the caller shuts it down after the
    ///     application has stopped.
    ///   - logger: the gateway's logger.
    ///   - onServerRunning: called with the bound port once listening.
    public static func build(
        configuration: GatewayConfiguration,
        http: CurlHTTPClient,
        logger: Logger = Logger(label: "ims-gateway"),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let credentials = IAMPasswordCredentialProvider(
            credentials: configuration.credentials, iamBaseURL: configuration.iamBaseURL, http: http,
            refreshMargin: TimeInterval(configuration.tokenRefreshMarginSeconds),
            timeoutMilliseconds: configuration.upstreamTimeoutMilliseconds,
            connectTimeoutMilliseconds: configuration.upstreamConnectTimeoutMilliseconds,
            logger: logger)
        let client = IMSClient(
            configuration: IMSClientConfiguration(
                imsBaseURL: configuration.imsBaseURL, timeoutMilliseconds: configuration.upstreamTimeoutMilliseconds,
                connectTimeoutMilliseconds: configuration.upstreamConnectTimeoutMilliseconds,
                jobQuery: configuration.jobQuery),
            http: http, credentials: credentials, logger: logger)
        let runner = BatchRunner(
            client: client,
            waiter: JobWaiter(client: client, schedule: configuration.pollSchedule, clock: ContinuousClock()),
            retryPolicy: SubmitRetryPolicy(maxAttempts: configuration.maxSubmitAttempts),
            logger: logger)
        let router = Router()
        MemberStatusController(
            configuration: configuration,
            planner: BatchPlanner(
                maxImagesPerRequest: configuration.maxImagesPerRequest, maxImagesPerJob: configuration.maxImagesPerJob),
            executor: PlanExecutor(runner: runner, fanOut: configuration.fanOutPerRequest),
            logger: logger
        ).addRoutes(to: router)
        HealthController().addRoutes(to: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "ims-gateway"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }
}

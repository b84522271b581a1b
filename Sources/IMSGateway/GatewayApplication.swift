import CurlHTTP
import Foundation
import GatewayStore
import Hummingbird
import IMSClient
import Logging
import ServiceLifecycle

/// Builds the gateway: the one place where its parts are put together (also the test seam).
public enum GatewayApplication {
    /// Builds the gateway as a Hummingbird application, without the drain of
    /// ``services(configuration:http:logger:metrics:onServerRunning:)``: its graceful shutdown stops
    /// listening at once and lets running requests finish on their own deadlines.
    /// - Parameters:
    ///   - configuration: every setting.
    ///   - http: the libcurl client for all upstream calls; the caller shuts it down after the
    ///     application has stopped.
    ///   - store: where requests are stored (opened and migrated by the caller).
    ///   - recovered: what an earlier process left running in `store` (``RecoveredRequests/load(from:submitTimeout:now:)``).
    ///   - logger: the gateway's logger.
    ///   - metrics: the registry `/metrics` serves (each gateway its own by default).
    ///   - onServerRunning: called with the bound port once listening.
    public static func build(
        configuration: GatewayConfiguration,
        http: CurlHTTPClient,
        store: any GatewayStore,
        recovered: RecoveredRequests = .none,
        logger: Logger = Logger(label: "ims-gateway"),
        metrics: GatewayMetrics = GatewayMetrics(),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        build(
            configuration: configuration, http: http, store: store, recovered: recovered, readiness: ReadinessState(),
            drain: DrainController(), logger: logger, metrics: metrics, onServerRunning: onServerRunning)
    }

    /// The gateway with graceful shutdown (docs/ARCHITECTURE.md, "Shutdown"), as the services to
    /// run in one `ServiceGroup`, in the order returned. On graceful shutdown the group first
    /// drains (`/readyz` 503, new accept/reject requests 503, running ones finish or are
    /// answered 504 at `drainTimeoutSeconds`), then stops the HTTP server.
    /// - Parameters:
    ///   - configuration: every setting.
    ///   - http: the libcurl client for all upstream calls; the caller shuts it down after the
    ///     group has stopped, so that it is the last thing to stop.
    ///   - store: where requests are stored (opened and migrated by the caller).
    ///   - recovered: what an earlier process left running in `store`.
    ///   - logger: the gateway's logger.
    ///   - metrics: the registry `/metrics` serves.
    ///   - onServerRunning: called with the bound port once listening.
    public static func services(
        configuration: GatewayConfiguration,
        http: CurlHTTPClient,
        store: any GatewayStore,
        recovered: RecoveredRequests = .none,
        logger: Logger = Logger(label: "ims-gateway"),
        metrics: GatewayMetrics = GatewayMetrics(),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> [any Service] {
        let readiness = ReadinessState()
        let drain = DrainController()
        let app = build(
            configuration: configuration, http: http, store: store, recovered: recovered, readiness: readiness,
            drain: drain, logger: logger, metrics: metrics, onServerRunning: onServerRunning)
        let drainService = DrainService(
            drain: drain, readiness: readiness, timeout: .seconds(configuration.drainTimeoutSeconds), logger: logger)
        // A group shuts its services down last to first: the drain before the server.
        return [app, drainService]
    }

    static func build(
        configuration: GatewayConfiguration,
        http: CurlHTTPClient,
        store: any GatewayStore,
        recovered: RecoveredRequests,
        readiness: ReadinessState,
        drain: DrainController,
        logger: Logger,
        metrics: GatewayMetrics,
        onServerRunning: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        let credentials = makeCredentialProvider(
            configuration: configuration, http: http, readiness: readiness, metrics: metrics, logger: logger)
        let health = StoreHealth(logger: logger, metrics: metrics)
        let replicas = AliveReplicas()
        // Replicas on one store share the IMS call budget and the clients' buckets through it.
        let sharedBuckets = store.isShared ? store as? any SharedTokenBuckets : nil
        let sharedBudget = sharedBuckets.map {
            StoreUpstreamBudget(
                buckets: $0, rate: configuration.upstreamRate, burst: configuration.upstreamBurst, replicas: replicas,
                health: health, logger: logger)
        }
        let upstreamLimiter = UpstreamLimiter(
            rate: configuration.upstreamRate, burst: configuration.upstreamBurst, clock: ContinuousClock(),
            shared: sharedBudget)
        let client = IMSClient(
            configuration: IMSClientConfiguration(
                imsBaseURL: configuration.imsBaseURL, timeoutMilliseconds: configuration.upstreamTimeoutMilliseconds,
                connectTimeoutMilliseconds: configuration.upstreamConnectTimeoutMilliseconds,
                jobQuery: configuration.jobQuery, maxPauseSeconds: configuration.upstreamMaxPauseSeconds),
            http: http, credentials: credentials, logger: logger, metrics: metrics.upstream, limiter: upstreamLimiter)
        let scheduler = JobScheduler(jobs: client, clock: ContinuousClock())
        let log = RequestLog(logger: logger)
        let lifecycle = LifecycleContext(
            jobs: client, scheduler: scheduler,
            settings: RequestLifecycle.Settings(
                fanOut: configuration.fanOutPerRequest, maxSubmitAttempts: configuration.maxSubmitAttempts,
                finalPollMargin: configuration.pollSchedule.finalPollMargin),
            pollSchedule: configuration.pollSchedule,
            planner: configuration.adaptivePolling ? AdaptivePollPlanner(base: configuration.pollSchedule) : nil,
            retryPolicy: SubmitRetryPolicy(maxAttempts: configuration.maxSubmitAttempts),
            readiness: readiness, drain: drain, metrics: metrics, log: log, logger: logger)
        let router = Router(context: GatewayRequestContext.self, options: .autoGenerateHeadEndpoints)
        // One middleware in front of every route: metrics, request ids, CORS, canonical paths
        // and problem details (GatewayEdgeMiddleware says why one and in which order).
        router.add(middleware: GatewayEdgeMiddleware(
            metrics: metrics,
            cors: configuration.corsAllowedOrigins.isEmpty
                ? nil
                : GatewayCORSMiddleware(
                    origins: configuration.corsAllowedOrigins, maxAgeSeconds: configuration.corsMaxAgeSeconds, metrics: metrics),
            logger: logger))
        let registry = RequestRegistry(
            store: store, maxBackgroundWait: .seconds(configuration.maxBackgroundWaitSeconds), context: lifecycle,
            logger: logger, recovered: recovered.resumed, health: health,
            submitTimeout: .milliseconds(configuration.upstreamTimeoutMilliseconds))
        if case .insecureNoAuth = configuration.clientAuthentication {
            logger.warning(
                "CLIENT AUTHENTICATION IS OFF (insecure-no-auth): anyone who reaches this port can accept and reject images in every project; use it on a local machine only")
        }
        let limiter = ClientRateLimiter(clock: ContinuousClock())
        let browserTokens = configuration.browserTokensSecret.map {
            BrowserTokens(secret: $0, maxLifetimeSeconds: configuration.browserTokensMaxTTLSeconds)
        }
        let clientRoutes = router.group()
            .add(middleware: ClientMiddleware(
                authentication: configuration.clientAuthentication, limiter: limiter,
                shared: sharedBuckets.map { SharedClientBuckets(buckets: $0, fallback: limiter, replicas: replicas, health: health) },
                browserTokens: browserTokens, metrics: metrics, log: log))
        BrowserTokenController(configuration: configuration, tokens: browserTokens, metrics: metrics).addRoutes(to: clientRoutes)
        MemberStatusController(
            configuration: configuration,
            planner: BatchPlanner(
                maxImagesPerRequest: configuration.maxImagesPerRequest, maxImagesPerJob: configuration.maxImagesPerJob),
            registry: registry,
            drain: drain,
            metrics: metrics,
            log: log,
            upstreamWait: { [rate = configuration.upstreamRate] in
                let now = ContinuousClock.now
                let paused = upstreamLimiter.pausedUntil.map { now.duration(to: $0) } ?? .zero
                let pausedElsewhere = sharedBudget?.seenPause.map { now.duration(to: $0.until) } ?? .zero
                return max(paused, pausedElsewhere, .seconds(Double(upstreamLimiter.waiting.total) / rate))
            }
        ).addRoutes(to: clientRoutes)
        // This replica's own pause (an IMS 429 it got), else one another replica stored.
        let upstreamPause: @Sendable () -> UpstreamPause? = { client.pause ?? sharedBudget?.seenPause }
        HealthController(readiness: readiness, upstreamPause: upstreamPause, store: { registry.health.snapshot() })
            .addRoutes(to: router)
        MetricsController(metrics: metrics, beforeRender: { metrics.upstreamPause(upstreamPause()) }).addRoutes(to: router)
        var services: [any Service] = [
            SchedulerService(scheduler: scheduler),
            RecoveryService(recovered: recovered, registry: registry, metrics: metrics, logger: logger),
            OutcomeReaper(
                store: store, ttl: .seconds(configuration.outcomeTTLSeconds), interval: .seconds(configuration.outcomeReapIntervalSeconds), batchSize: 500,
                metrics: metrics, logger: logger),
        ]
        if store.isShared {
            // Shut down after the drain and the server (the application stops its services
            // after its server): the leases are released once nothing runs here any more.
            services.append(LeaseService(
                store: store, registry: registry, drain: drain, interval: .seconds(configuration.storeLeaseRenewSeconds),
                submitTimeout: .milliseconds(configuration.upstreamTimeoutMilliseconds),
                heartbeat: heartbeat(sharedBuckets, replicas: replicas, windowSeconds: configuration.storeLeaseSeconds),
                metrics: metrics, logger: logger))
        }
        if store.isShared, let feed = store as? any RequestChangeFeed {
            services.append(ChangeListenerService(feed: feed, watchers: registry.watchers, metrics: metrics))
        }
        if case .clients(let registry) = configuration.clientAuthentication, registry.path != nil {
            services.append(ClientsReloadService(registry: registry, limiter: limiter, logger: logger))
        }
        if let probeProjectID = configuration.probeProjectID {
            services.append(ReadinessMonitor(
                client: client, probeProjectID: probeProjectID, state: readiness,
                recheckInterval: .seconds(configuration.readinessRecheckSeconds), logger: logger))
        } else {
            readiness.unproven("no probe project configured (probe.projectId)")
        }
        return Application(
            router: router,
            server: GatewayHTTP1Channel.builder(
                idleTimeout: .seconds(Int64(configuration.idleTimeoutSeconds)), metrics: metrics, logger: logger),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "ims-gateway"),
            services: services,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }

    /// The heartbeat of ``LeaseService`` on `buckets`: replicas seen within `windowSeconds`
    /// (`store.leaseSeconds`) are counted alive.
    static func heartbeat(
        _ buckets: (any SharedTokenBuckets)?, replicas: AliveReplicas, windowSeconds: Int
    ) -> (@Sendable () async throws -> Void)? {
        guard let buckets else { return nil }
        let window = Int64(windowSeconds) * 1000
        return { replicas.update(try await buckets.heartbeat(withinMs: window)) }
    }

    /// The credential provider for the configured mode.
    static func makeCredentialProvider(
        configuration: GatewayConfiguration, http: CurlHTTPClient, readiness: ReadinessState,
        metrics: GatewayMetrics, logger: Logger
    ) -> any CredentialProvider {
        switch configuration.credentials {
        case .password(let password):
            return IAMPasswordCredentialProvider(
                credentials: password, iamBaseURL: configuration.iamBaseURL, http: http,
                refreshMargin: TimeInterval(configuration.tokenRefreshMarginSeconds),
                timeoutMilliseconds: configuration.upstreamTimeoutMilliseconds,
                connectTimeoutMilliseconds: configuration.upstreamConnectTimeoutMilliseconds,
                logger: logger, metrics: metrics.upstream)
        case .accessKey(let accessKey, let secretKey):
            return AccessKeyCredentialProvider(accessKey: accessKey, secretKey: secretKey)
        case .temporaryAccessKeyFile(let path):
            return TemporaryAccessKeyCredentialProvider(
                path: path, logger: logger, onChange: { readiness.unproven("temporary credentials changed") })
        }
    }
}

import ArgumentParser
import Configuration
import Foundation
import GatewayStore
import IMSClient
import CurlHTTP
import IMSGateway
import Logging
import ServiceLifecycle
import UnixSignals

/// `ims-gateway serve`: runs the gateway until SIGTERM or SIGINT, then drains it (waiting
/// requests go on for up to `drain.timeoutSeconds`) and exits 0.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway.",
        discussion: """
            Every setting can also be given as an IMSGW_* environment variable (e.g. IMSGW_IMS_URL, \
            IMSGW_MAX_IMAGES_PER_JOB) or as a further --kebab-case flag (e.g. --poll-initial-ms 500); \
            the README's configuration table lists them all. Flags win over the environment. \
            Secrets come only from the environment (IMSGW_IAM_PASSWORD, IMSGW_AKSK_SECRET_KEY) or from \
            files (IMSGW_IAM_PASSWORD_FILE, IMSGW_AKSK_SECRET_KEY_FILE; a file wins over the variable), \
            never from a flag.
            """)

    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (default 8080).") var port: String?
    @Option(name: .customLong("ims-url"), help: "IMS endpoint, e.g. https://ims.cn-north-4.myhuaweicloud.com.") var imsURL: String?
    @Option(name: .customLong("iam-url"), help: "IAM endpoint, e.g. https://iam.cn-north-4.myhuaweicloud.com.") var iamURL: String?
    @Option(name: .customLong("iam-domain"), help: "Account (domain) name of the IAM user.") var iamDomain: String?
    @Option(name: .customLong("iam-user"), help: "IAM user name.") var iamUser: String?
    @Option(name: .customLong("iam-password-file"), help: "File holding the IAM password.") var iamPasswordFile: String?
    @Option(name: .customLong("credentials-mode"), help: "password (default), aksk or temporary.") var credentialsMode: String?
    @Option(name: .customLong("probe-project-id"), help: "Project whose credentials /readyz proves (32 hex).") var probeProjectID: String?
    @Option(name: .customLong("max-images-per-job"), help: "Most images per IMS job (default 20).") var maxImagesPerJob: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical (default info).") var logLevel: String?
    @Option(name: .customLong("log-format"), help: "json (default when standard error is not a terminal) or text.") var logFormat: String?
    @Option(name: .customLong("config-file"), help: "YAML or JSON file with settings (below flags and IMSGW_* variables).") var configFile: String?
    @Option(name: .customLong("clients-file"), help: "YAML or JSON file of the clients allowed to call (SHA-256 of their keys); reloaded on SIGHUP.") var clientsFile: String?
    @Flag(name: .customLong("insecure-no-auth"), help: "No client authentication: anyone who reaches the port may call. Local use only.") var insecureNoAuth = false
    @Flag(name: .customLong("print-config"), help: "Print the effective configuration (secrets redacted) and exit.") var printConfig = false
    @Argument(parsing: .allUnrecognized, help: .hidden) var settings: [String] = []

    func run() async throws {
        // SIGHUP reloads the clients file once the gateway runs; until then (and without a
        // clients file) it must not end the process, as its default action would.
        signal(SIGHUP, SIG_IGN)
        // This process among the replicas of a PostgreSQL store: in every log line.
        let replicaID = ReplicaID.make()
        let reader: ConfigReader
        let configuration: GatewayConfiguration
        let logger: Logger
        do {
            reader = try await ConfigSources.reader(
                flags: [
                    "host": host, "port": port, "ims.url": imsURL, "iam.url": iamURL, "iam.domain": iamDomain,
                    "iam.user": iamUser, "iam.passwordFile": iamPasswordFile, "maxImagesPerJob": maxImagesPerJob,
                    "credentials.mode": credentialsMode, "probe.projectId": probeProjectID, "logLevel": logLevel,
                    "logFormat": logFormat, "clients.file": clientsFile, "insecureNoAuth": insecureNoAuth ? "true" : nil,
                ],
                forwarded: settings,
                configFile: configFile ?? ProcessInfo.processInfo.environment["IMSGW_CONFIG_FILE"])
            let loaded = try GatewayConfiguration.load(from: reader)
            try ConfigSources.checkForwarded(settings, usedKeys: loaded.usedKeys)
            configuration = loaded.configuration
            logger = try Logging.bootstrapped(
                level: reader.string(forKey: "logLevel"), format: reader.string(forKey: "logFormat"),
                metadata: ["replica": "\(replicaID)"])
        } catch {
            throw CommandFailure.configuration("\(error)").exit()
        }
        if printConfig {
            for (key, value) in configuration.effectiveSettings() { print("\(key): \(value)") }
            print("logLevel: \(reader.string(forKey: "logLevel") ?? "info")")
            print("logFormat: \(reader.string(forKey: "logFormat") ?? "json (text on a terminal)")")
            return
        }
        // The store first: a second process on the same file, a corrupt or unwritable file, or
        // a bad PostgreSQL URL stops the start with one line naming it.
        let opened: OpenedStore
        do {
            opened = try StoreOpener.prepare(
                url: configuration.storeURL, password: configuration.storePassword, replicaID: replicaID,
                leaseSeconds: configuration.storeLeaseSeconds, logger: logger)
        } catch {
            throw CommandFailure.store("\(error)").exit()
        }
        let http = try CurlHTTPClient(configuration: .init(
            maxConnections: configuration.maxUpstreamTransfers, caBundlePath: configuration.caBundlePath))
        // A PostgreSQL store's pool runs first, so it stops last; the gateway migrates the store
        // and resumes what it holds before it listens.
        let gateway = GatewayService(opened: opened, configuration: configuration, http: http, logger: logger)
        let services: [any Service] = (opened.service.map { [$0] } ?? []) + [gateway]
        // SIGTERM / SIGINT: drain, stop the HTTP server, then the store's pool, then (below)
        // the curl client, last.
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        let failure: (any Error)?
        do {
            try await group.run()
            failure = nil
        } catch {
            failure = error
        }
        http.shutdown()
        await opened.close()
        if let error = failure as? StoreError { throw CommandFailure.store("\(error)").exit() }
        if let failure { throw failure }
        logger.notice("ims-gateway stopped")
    }
}

extension Logging {
    /// Sends logs to standard error at `level` (default info), as JSON lines or text (default:
    /// text on a terminal, JSON otherwise), with `metadata` in every line (every logger made
    /// after this call), and returns the root logger.
    /// - Throws: ``ConfigurationError`` for an unknown level or format.
    static func bootstrapped(level: String?, format: String? = nil, metadata: Logger.Metadata = [:]) throws -> Logger {
        var parsed = Logger.Level.info
        if let level {
            guard let value = Logger.Level(rawValue: level.lowercased()) else {
                throw ConfigurationError("setting logLevel: '\(level)' is not one of trace, debug, info, notice, warning, error, critical")
            }
            parsed = value
        }
        let json: Bool
        switch format?.lowercased() {
        case nil: json = isatty(STDERR_FILENO) == 0
        case "json": json = true
        case "text": json = false
        case let other?: throw ConfigurationError("setting logFormat: '\(other)' is not one of json, text")
        }
        let chosen = parsed
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = chosen
                handler.metadata = metadata
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = chosen
            handler.metadata = metadata
            return handler
        }
        return Logger(label: "ims-gateway")
    }
}

/// The gateway as one service of `serve`'s group: migrates the store, loads what an earlier
/// process left running in it, then runs the gateway's own services (drain, HTTP server) in
/// a group of their own, which the outer group's graceful shutdown reaches.
struct GatewayService: Service {
    let opened: OpenedStore
    let configuration: GatewayConfiguration
    let http: CurlHTTPClient
    let logger: Logger

    /// - Throws: ``StoreError`` when the store cannot be migrated or read (the store's one
    ///   line, exit 74), or what the gateway's services throw.
    func run() async throws {
        var starting: StartingServer?
        let prepared: RecoveredRequests?
        do {
            prepared = try await prepareStore(starting: &starting)
        } catch {
            await starting?.stop()
            throw error
        }
        // The gateway takes over the port the starting server listened on (the same one, or
        // the one the system chose for port 0).
        var configuration = configuration
        if let starting {
            configuration.port = starting.port
            await starting.stop()
        }
        guard let recovered = prepared else { return }
        let services = GatewayApplication.services(
            configuration: configuration, http: http, store: opened.store, recovered: recovered, logger: logger
        ) { [configuration] port in
            logger.info(
                "ims-gateway listening",
                metadata: ["host": "\(configuration.host)", "port": "\(port)", "store": "\(opened.name)"])
        }
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        try await group.run()
    }
}

extension GatewayService {
    /// The first wait between two tries of a store that cannot be reached at start; it doubles
    /// up to ``maxStartRetryDelay``.
    static let firstStartRetryDelay: Duration = .seconds(1)
    static let maxStartRetryDelay: Duration = .seconds(30)

    /// Migrates the store and reads what an earlier process left running in it. While the
    /// store cannot be reached (a database down at start: `StoreError` `.unavailable`), tries
    /// again, 1 s after the first failure doubling up to 30 s, with one log line each; after
    /// the first failure a ``StartingServer`` listens on the gateway's address meanwhile
    /// (`/healthz` 200, `/readyz` 503 naming the store), returned in `starting` for the caller
    /// to stop. Any other failure (a newer schema, a corrupt file) ends the start.
    /// - Returns: what the store holds; nil when graceful shutdown came while waiting.
    /// - Throws: ``StoreError`` other than `.unavailable`; what Hummingbird throws when the
    ///   starting server cannot bind the address.
    func prepareStore(starting: inout StartingServer?) async throws -> RecoveredRequests? {
        var delay = Self.firstStartRetryDelay
        while true {
            let failure: StoreError
            do throws(StoreError) {
                try await opened.migrate()
                return try await RecoveredRequests.load(
                    from: opened.store, submitTimeout: .milliseconds(configuration.upstreamTimeoutMilliseconds))
            } catch {
                failure = error
            }
            guard failure.kind == .unavailable else { throw failure }
            logger.error(
                "store unreachable at start; not ready until it answers",
                metadata: ["error": "\(failure)", "retry_in_seconds": "\(delay.components.seconds)"])
            if starting == nil {
                let reason = "store \(opened.name) unreachable at start (\(failure.kind.rawValue)); retried, the log has the details"
                let server = try await StartingServer(
                    host: configuration.host, port: configuration.port, reason: { reason }, logger: logger)
                starting = server
                logger.notice(
                    "ims-gateway answering probes while it waits for its store (/healthz 200, /readyz 503)",
                    metadata: ["host": "\(configuration.host)", "port": "\(server.port)", "store": "\(opened.name)"])
            }
            do {
                try await cancelWhenGracefulShutdown { [delay] in try await Task.sleep(for: delay) }
            } catch {
                logger.notice("stopped before the store answered")
                return nil
            }
            delay = min(delay * 2, Self.maxStartRetryDelay)
        }
    }
}

/// A namespace for logging set-up helpers.
enum Logging {}

/// A failure that ends a command with a one-line message on standard error, no usage text.
enum CommandFailure: Error, CustomStringConvertible {
    /// A setting is missing or invalid (exit status 78, EX_CONFIG).
    case configuration(String)
    /// The store cannot be opened, locked, migrated or copied (exit status 74, EX_IOERR).
    case store(String)

    var description: String {
        switch self {
        case .configuration(let message), .store(let message): return message
        }
    }

    /// Prints `ims-gateway: <message>` to standard error and returns the exit code to throw.
    func exit() -> ExitCode {
        FileHandle.standardError.write(Data("ims-gateway: \(description)\n".utf8))
        switch self {
        case .configuration: return ExitCode(78)
        case .store: return ExitCode(74)
        }
    }
}

import Configuration
import Foundation
import IMSClient
import GatewayStore

/// A setting that stops start-up: names the setting, never shows a secret value.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// The message shown to the operator.
    public let description: String

    /// Creates an error.
    public init(_ description: String) {
        self.description = description
    }
}

extension GatewayConfiguration {
    /// Reads every setting from `reader` (keys below; as environment variables they are
    /// upper-cased with `_`, e.g. `maxImagesPerJob` is `IMSGW_MAX_IMAGES_PER_JOB` when the
    /// environment provider is prefixed with `imsgw`).
    ///
    /// Keys: `host`, `port`, `ims.url`, `probe.projectId`, `probe.intervalSeconds`,
    /// `credentials.mode` (`password` | `aksk` | `temporary`), `iam.url`, `iam.domain`,
    /// `iam.user`, `iam.password` (secret), `iam.passwordFile`, `aksk.accessKey`,
    /// `aksk.accessKeyFile`, `aksk.secretKey` (secret), `aksk.secretKeyFile`,
    /// `aksk.temporaryCredentialsFile`, `maxImagesPerRequest`, `maxImagesPerJob`,
    /// `fanOutPerRequest`, `maxUpstreamTransfers`, `wait.defaultSeconds`, `wait.maxSeconds`,
    /// `maxBodyBytes`, `maxCallersWaiting`, `server.idleTimeoutSeconds`, `poll.initialMs`, `poll.growth`, `poll.maxMs`,
    /// `upstream.connectTimeoutMs`, `upstream.timeoutMs`, `iam.refreshMarginSeconds`,
    /// `submit.maxAttempts`, `ims.jobQuery` (`show_job` | `show_job_progress`), `tls.caBundle`,
    /// `drain.timeoutSeconds`, `clients.file`, `insecureNoAuth`, `clients.defaultRate`,
    /// `clients.defaultBurst`, `outcomes.maxPerClient`, `outcomes.ttlSeconds`, `outcomes.reapIntervalSeconds`, `store.url`, `store.leaseSeconds`, `store.leaseRenewSeconds`,
    /// `store.password` (secret), `store.passwordFile`, `wait.maxBackgroundSeconds`, `upstream.rate`, `upstream.burst`, `upstream.maxPauseSeconds`,
    /// `clients.maxPendingRequests`, `events.keepAliveSeconds`, `events.maxStreamsPerClient`,
    /// `events.maxStreams`, `cors.allowedOrigins` (comma-separated), `cors.maxAgeSeconds`,
    /// `browserTokens.secret` (secret), `browserTokens.secretFile`, `browserTokens.maxTtlSeconds`.
    /// - Throws: ``ConfigurationError`` naming the first missing or invalid setting.
    public init(reader: ConfigReader) throws(ConfigurationError) {
        self = try Self.load(from: reader).configuration
    }

    /// Every key ``init(reader:)`` may read, in any credentials mode, plus the `logLevel` and
    /// `logFormat` of the executable: what a flag, an `IMSGW_*` variable or a configuration
    /// file key may name.
    public static let knownKeys: Set<String> = [
        "host", "port", "ims.url", "ims.jobQuery", "probe.projectId", "probe.intervalSeconds", "credentials.mode",
        "iam.url", "iam.domain", "iam.user", "iam.password", "iam.passwordFile", "iam.refreshMarginSeconds",
        "aksk.accessKey", "aksk.accessKeyFile", "aksk.secretKey", "aksk.secretKeyFile", "aksk.temporaryCredentialsFile",
        "maxImagesPerRequest", "maxImagesPerJob", "fanOutPerRequest", "maxUpstreamTransfers", "maxBodyBytes",
        "maxCallersWaiting", "wait.defaultSeconds", "wait.maxSeconds", "wait.maxBackgroundSeconds",
        "server.idleTimeoutSeconds", "poll.initialMs", "poll.growth", "poll.maxMs", "poll.adaptive", "upstream.connectTimeoutMs",
        "upstream.timeoutMs", "upstream.rate", "upstream.burst", "upstream.maxPauseSeconds", "submit.maxAttempts", "tls.caBundle", "drain.timeoutSeconds", "clients.file",
        "clients.defaultRate", "clients.defaultBurst", "clients.maxPendingRequests", "insecureNoAuth", "outcomes.maxPerClient",
        "outcomes.ttlSeconds", "outcomes.reapIntervalSeconds", "store.url", "store.password", "store.passwordFile", "store.leaseSeconds", "store.leaseRenewSeconds",
        "events.keepAliveSeconds", "events.maxStreamsPerClient", "events.maxStreams", "cors.allowedOrigins",
        "cors.maxAgeSeconds", "browserTokens.secret", "browserTokens.secretFile", "browserTokens.maxTtlSeconds",
        "logLevel", "logFormat",
    ]

    /// The words of a key, lower-cased: `poll.initialMs` is `poll`, `initial`, `ms`; the
    /// environment variable and the flag of a key are made of them.
    public static func words(of key: String) -> [String] {
        key.split(separator: ".").flatMap { component -> [String] in
            var words: [String] = []
            var word = ""
            for character in component {
                if character.isUppercase, !word.isEmpty {
                    words.append(word)
                    word = ""
                }
                word.append(contentsOf: character.lowercased())
            }
            return words + [word]
        }
    }

    /// The environment variable of a key: `poll.initialMs` is `IMSGW_POLL_INITIAL_MS`.
    public static func environmentVariable(for key: String) -> String {
        "IMSGW_" + words(of: key).joined(separator: "_").uppercased()
    }

    /// Reads every setting like ``init(reader:)`` and also returns the keys it looked up, so
    /// that a caller can refuse flags that name no setting (a typo must not pass unnoticed).
    /// - Throws: ``ConfigurationError`` naming the first missing or invalid setting.
    public static func load(from reader: ConfigReader) throws(ConfigurationError) -> (configuration: Self, usedKeys: Set<String>) {
        let settings = SettingsReader(reader: reader)
        let configuration = try Self(settings: settings)
        return (configuration, settings.usedKeys)
    }

    private init(settings: SettingsReader) throws(ConfigurationError) {
        let imsURL = try settings.url("ims.url")
        let mode = settings.string("credentials.mode") ?? "password"
        let credentials: UpstreamCredentials
        var iamURL = ""
        switch mode {
        case "password":
            iamURL = try settings.url("iam.url")
            credentials = .password(IAMPasswordCredentials(
                domainName: try settings.required("iam.domain"), userName: try settings.required("iam.user"),
                password: try settings.secret("iam.password", fileKey: "iam.passwordFile")))
        case "aksk":
            let accessKey = try settings.secret("aksk.accessKey", fileKey: "aksk.accessKeyFile")
            credentials = .accessKey(
                accessKey: accessKey, secretKey: try settings.secret("aksk.secretKey", fileKey: "aksk.secretKeyFile"))
        case "temporary":
            let path = try settings.required("aksk.temporaryCredentialsFile")
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ConfigurationError("setting aksk.temporaryCredentialsFile: cannot read the file \(path)")
            }
            credentials = .temporaryAccessKeyFile(path: path)
        default:
            throw ConfigurationError("setting credentials.mode: '\(mode)' is not one of password, aksk, temporary")
        }
        let probe = try settings.required("probe.projectId").lowercased()
        guard probe.count == 32, probe.allSatisfy(\.isHexDigit) else {
            throw ConfigurationError("setting probe.projectId: '\(probe)' is not 32 hexadecimal characters")
        }
        self.init(imsBaseURL: imsURL, iamBaseURL: iamURL, credentials: credentials, probeProjectID: probe)
        readinessRecheckSeconds = try settings.int("probe.intervalSeconds", default: readinessRecheckSeconds, range: 5...86_400)
        host = settings.string("host") ?? host
        port = try settings.int("port", default: port, range: 0...65535)
        maxImagesPerRequest = try settings.int("maxImagesPerRequest", default: maxImagesPerRequest, range: 1...100_000)
        maxImagesPerJob = try settings.int("maxImagesPerJob", default: maxImagesPerJob, range: 1...10_000)
        fanOutPerRequest = try settings.int("fanOutPerRequest", default: fanOutPerRequest, range: 1...1024)
        maxUpstreamTransfers = try settings.int("maxUpstreamTransfers", default: maxUpstreamTransfers, range: 1...4096)
        defaultWaitSeconds = try settings.int("wait.defaultSeconds", default: defaultWaitSeconds, range: 1...86_400)
        maxWaitSeconds = try settings.int("wait.maxSeconds", default: maxWaitSeconds, range: 1...86_400)
        idleTimeoutSeconds = try settings.int("server.idleTimeoutSeconds", default: idleTimeoutSeconds, range: 1...3600)
        maxCallersWaiting = try settings.int("maxCallersWaiting", default: maxCallersWaiting, range: 1...1_000_000)
        maxBodyBytes = try settings.int("maxBodyBytes", default: maxBodyBytes, range: 1024...(64 << 20))
        let initialMs = try settings.int("poll.initialMs", default: 1000, range: 0...600_000)
        let maxMs = try settings.int("poll.maxMs", default: 10_000, range: 1...600_000)
        let growth = try settings.double("poll.growth", default: 1.5, range: 1...10)
        pollSchedule = PollSchedule(
            initialDelay: .milliseconds(initialMs), growthFactor: growth, maxDelay: .milliseconds(max(initialMs, maxMs)))
        adaptivePolling = try settings.bool("poll.adaptive", default: adaptivePolling)
        upstreamConnectTimeoutMilliseconds = try settings.int(
            "upstream.connectTimeoutMs", default: upstreamConnectTimeoutMilliseconds, range: 1...600_000)
        upstreamTimeoutMilliseconds = try settings.int(
            "upstream.timeoutMs", default: upstreamTimeoutMilliseconds, range: 1...600_000)
        tokenRefreshMarginSeconds = try settings.int(
            "iam.refreshMarginSeconds", default: tokenRefreshMarginSeconds, range: 0...86_400)
        maxSubmitAttempts = try settings.int("submit.maxAttempts", default: maxSubmitAttempts, range: 1...20)
        upstreamRate = try settings.double("upstream.rate", default: upstreamRate, range: 0.001...100_000)
        upstreamBurst = try settings.int("upstream.burst", default: upstreamBurst, range: 1...100_000)
        upstreamMaxPauseSeconds = try settings.int(
            "upstream.maxPauseSeconds", default: upstreamMaxPauseSeconds, range: 1...86_400)
        drainTimeoutSeconds = try settings.int("drain.timeoutSeconds", default: drainTimeoutSeconds, range: 0...3600)
        if let query = settings.string("ims.jobQuery") {
            guard let value = IMSClientConfiguration.JobQuery(rawValue: query) else {
                throw ConfigurationError("setting ims.jobQuery: '\(query)' is not one of show_job, show_job_progress")
            }
            jobQuery = value
        }
        if let path = settings.string("tls.caBundle") {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ConfigurationError("setting tls.caBundle: cannot read the file \(path)")
            }
            caBundlePath = path
        }
        maxBackgroundWaitSeconds = try settings.int(
            "wait.maxBackgroundSeconds", default: maxBackgroundWaitSeconds, range: 0...86_400)
        outcomeMaxPerClient = try settings.int(
            "outcomes.maxPerClient", default: outcomeMaxPerClient, range: 1...10_000_000)
        if let url = settings.string("store.url") {
            do {
                _ = try StoreLocation.parse(url)
            } catch {
                throw ConfigurationError("setting \(error.message)")
            }
            storeURL = url
        }
        if PostgresStoreSettings.isPostgresURL(storeURL) {
            storePassword = try settings.optionalSecret("store.password", fileKey: "store.passwordFile")
        }
        storeLeaseSeconds = try settings.int("store.leaseSeconds", default: storeLeaseSeconds, range: 2...3_600)
        storeLeaseRenewSeconds = try settings.int(
            "store.leaseRenewSeconds", default: min(storeLeaseRenewSeconds, storeLeaseSeconds / 2), range: 1...1_800)
        if storeLeaseRenewSeconds >= storeLeaseSeconds {
            throw ConfigurationError(
                "setting store.leaseRenewSeconds (\(storeLeaseRenewSeconds)) must be below store.leaseSeconds (\(storeLeaseSeconds)): a lease must be renewed before it expires")
        }
        outcomeTTLSeconds = try settings.int("outcomes.ttlSeconds", default: outcomeTTLSeconds, range: 1...2_592_000)
        outcomeReapIntervalSeconds = try settings.int(
            "outcomes.reapIntervalSeconds", default: outcomeReapIntervalSeconds, range: 1...86_400)
        defaultClientRateLimit = ClientRateLimit(
            rate: try settings.double("clients.defaultRate", default: defaultClientRateLimit.rate, range: 0.001...1_000_000),
            burst: try settings.int("clients.defaultBurst", default: defaultClientRateLimit.burst, range: 1...1_000_000))
        maxPendingRequestsPerClient = try settings.int(
            "clients.maxPendingRequests", default: maxPendingRequestsPerClient, range: 1...1_000_000)
        eventsKeepAliveSeconds = try settings.int("events.keepAliveSeconds", default: eventsKeepAliveSeconds, range: 1...300)
        eventsMaxStreamsPerClient = try settings.int(
            "events.maxStreamsPerClient", default: eventsMaxStreamsPerClient, range: 1...1_000_000)
        eventsMaxStreams = try settings.int("events.maxStreams", default: eventsMaxStreams, range: 1...1_000_000)
        if let origins = settings.stringList("cors.allowedOrigins") {
            corsAllowedOrigins = try CORSOrigins.parse(origins.joined(separator: ","))
        }
        corsMaxAgeSeconds = try settings.int("cors.maxAgeSeconds", default: corsMaxAgeSeconds, range: 0...86_400)
        browserTokensSecret = try settings.optionalSecret("browserTokens.secret", fileKey: "browserTokens.secretFile")
        if let secret = browserTokensSecret, secret.utf8.count < 32 {
            throw ConfigurationError(
                "setting browserTokens.secret: at least 32 bytes are needed (an HS256 key; e.g. openssl rand -hex 32)")
        }
        browserTokensMaxTTLSeconds = try settings.int(
            "browserTokens.maxTtlSeconds", default: browserTokensMaxTTLSeconds, range: 10...900)
        let insecureNoAuth = try settings.bool("insecureNoAuth", default: false)
        switch (settings.string("clients.file"), insecureNoAuth) {
        case (let path?, false):
            do {
                clientAuthentication = .clients(try ClientRegistry.load(path: path, defaultRateLimit: defaultClientRateLimit))
            } catch {
                throw ConfigurationError("setting clients.file: \(error)")
            }
        case (nil, true):
            clientAuthentication = .insecureNoAuth(rateLimit: defaultClientRateLimit)
        case (_?, true):
            throw ConfigurationError("settings clients.file and insecureNoAuth exclude each other: give one")
        case (nil, false):
            throw ConfigurationError(
                "setting clients.file is required: the file of clients allowed to call (README, \"Adding a client\"); --insecure-no-auth turns authentication off, for a local machine only")
        }
        if defaultWaitSeconds > maxWaitSeconds {
            throw ConfigurationError("setting wait.defaultSeconds (\(defaultWaitSeconds)) is above wait.maxSeconds (\(maxWaitSeconds))")
        }
    }
}

/// Typed reads with errors that name the setting; remembers which keys were read.
final class SettingsReader {
    let reader: ConfigReader
    private(set) var usedKeys: Set<String> = []

    init(reader: ConfigReader) {
        self.reader = reader
    }

    func string(_ key: String) -> String? {
        usedKeys.insert(key)
        guard let value = reader.string(forKey: ConfigKey(key)) else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// A setting given as one comma-separated string (an environment variable) or as a list
    /// (a YAML or JSON array; a flag whose value has commas, which the command-line source
    /// reads as one).
    func stringList(_ key: String) -> [String]? {
        usedKeys.insert(key)
        if let list = reader.stringArray(forKey: ConfigKey(key)), !list.isEmpty, list.count > 1 || list.first?.contains(",") == false {
            return list
        }
        return string(key).map { [$0] }
    }

    func required(_ key: String) throws(ConfigurationError) -> String {
        guard let value = string(key) else { throw ConfigurationError("setting \(key) is required") }
        return value
    }

    func url(_ key: String) throws(ConfigurationError) -> String {
        let value = try required(key)
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            url.host?.isEmpty == false, url.query == nil
        else {
            throw ConfigurationError("setting \(key): '\(value)' is not an http(s) URL without query")
        }
        return value
    }

    func int(_ key: String, default defaultValue: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = string(key) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError("setting \(key): '\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func bool(_ key: String, default defaultValue: Bool) throws(ConfigurationError) -> Bool {
        guard let text = string(key) else { return defaultValue }
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ConfigurationError("setting \(key): '\(text)' is not true or false")
        }
    }

    func double(_ key: String, default defaultValue: Double, range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        guard let text = string(key) else { return defaultValue }
        guard let value = Double(text), range.contains(value) else {
            throw ConfigurationError("setting \(key): '\(text)' is not a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// ``secret(_:fileKey:)``, or nil when neither setting is given.
    func optionalSecret(_ key: String, fileKey: String) throws(ConfigurationError) -> String? {
        usedKeys.insert(key)
        guard string(fileKey) != nil || reader.string(forKey: ConfigKey(key), isSecret: true) != nil else { return nil }
        return try secret(key, fileKey: fileKey)
    }

    /// A secret from the setting itself (environment only) or from the file the `fileKey`
    /// setting names; the value is never part of an error.
    func secret(_ key: String, fileKey: String) throws(ConfigurationError) -> String {
        usedKeys.insert(key)
        if let path = string(fileKey) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError("setting \(fileKey): cannot read the file \(path)")
            }
            let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else { throw ConfigurationError("setting \(fileKey): the file \(path) is empty") }
            return value
        }
        guard let value = reader.string(forKey: ConfigKey(key), isSecret: true), !value.isEmpty else {
            throw ConfigurationError("setting \(key) (or \(fileKey)) is required")
        }
        return value
    }
}

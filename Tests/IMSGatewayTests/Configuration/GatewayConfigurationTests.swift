import Configuration
import Foundation
import IMSClient
import IMSGateway
import Testing

/// Reading settings from `IMSGW_*` environment variables, as `serve` does.
@Suite("configuration")
struct GatewayConfigurationTests {
    static let base = [
        "IMSGW_IMS_URL": "https://ims.cn-north-4.myhuaweicloud.com",
        "IMSGW_IAM_URL": "https://iam.cn-north-4.myhuaweicloud.com",
        "IMSGW_IAM_DOMAIN": "acct", "IMSGW_IAM_USER": "gateway", "IMSGW_IAM_PASSWORD": "s3cret-pw",
        "IMSGW_PROBE_PROJECT_ID": "0123456789ABCDEF0123456789abcdef", "IMSGW_INSECURE_NO_AUTH": "true",
    ]

    static func load(_ environment: [String: String]) throws(ConfigurationError) -> GatewayConfiguration {
        let provider = EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ["imsgw"])
        return try GatewayConfiguration(reader: ConfigReader(provider: provider))
    }

    static func message(_ environment: [String: String]) -> String? {
        do {
            _ = try load(environment)
            return nil
        } catch {
            return error.description
        }
    }

    @Test("defaults of docs/ARCHITECTURE.md (Defaults); the probe project is lower-cased")
    func defaults() throws {
        let configuration = try Self.load(Self.base)
        #expect(configuration.maxImagesPerRequest == 1000)
        #expect(configuration.maxImagesPerJob == 20)
        #expect(configuration.fanOutPerRequest == 8)
        #expect(configuration.maxUpstreamTransfers == 64)
        #expect(configuration.defaultWaitSeconds == 300)
        #expect(configuration.maxWaitSeconds == 900)
        #expect(configuration.maxBodyBytes == 262_144)
        #expect(configuration.tokenRefreshMarginSeconds == 1800)
        #expect(configuration.upstreamConnectTimeoutMilliseconds == 5000)
        #expect(configuration.upstreamTimeoutMilliseconds == 30_000)
        #expect(configuration.pollSchedule.initialDelay == .seconds(1))
        #expect(configuration.pollSchedule.maxDelay == .seconds(10))
        #expect(configuration.probeProjectID == "0123456789abcdef0123456789abcdef")
        #expect(configuration.credentials.mode == "password")
        #expect(configuration.upstreamMaxPauseSeconds == 300)
        #expect(configuration.maxPendingRequestsPerClient == 200)
    }

    @Test("upstream.maxPauseSeconds and clients.maxPendingRequests come from their variables")
    func budgetBounds() throws {
        var environment = Self.base
        environment["IMSGW_UPSTREAM_MAX_PAUSE_SECONDS"] = "30"
        environment["IMSGW_CLIENTS_MAX_PENDING_REQUESTS"] = "5"
        let configuration = try Self.load(environment)
        #expect(configuration.upstreamMaxPauseSeconds == 30)
        #expect(configuration.maxPendingRequestsPerClient == 5)
    }

    @Test("environment variables set nested and camelCase keys")
    func environmentNames() throws {
        var environment = Self.base
        environment["IMSGW_MAX_IMAGES_PER_JOB"] = "50"
        environment["IMSGW_POLL_INITIAL_MS"] = "250"
        environment["IMSGW_WAIT_MAX_SECONDS"] = "600"
        environment["IMSGW_IMS_JOB_QUERY"] = "show_job_progress"
        let configuration = try Self.load(environment)
        #expect(configuration.maxImagesPerJob == 50)
        #expect(configuration.pollSchedule.initialDelay == .milliseconds(250))
        #expect(configuration.maxWaitSeconds == 600)
        #expect(configuration.jobQuery == .showJobProgress)
    }

    @Test(
        "a wrong value names the setting and never shows a secret",
        arguments: [
            ("IMSGW_MAX_IMAGES_PER_JOB", "abc", "maxImagesPerJob"),
            ("IMSGW_POLL_INITIAL_MS", "-5", "poll.initialMs"),
            ("IMSGW_IMS_URL", "ftp://x", "ims.url"),
            ("IMSGW_CREDENTIALS_MODE", "kerberos", "credentials.mode"),
            ("IMSGW_PROBE_PROJECT_ID", "nope", "probe.projectId"),
            ("IMSGW_IAM_PASSWORD_FILE", "/nonexistent/password", "iam.passwordFile"),
            ("IMSGW_WAIT_DEFAULT_SECONDS", "1000", "wait.defaultSeconds"),
            ("IMSGW_UPSTREAM_MAX_PAUSE_SECONDS", "0", "upstream.maxPauseSeconds"),
            ("IMSGW_CLIENTS_MAX_PENDING_REQUESTS", "-1", "clients.maxPendingRequests"),
        ])
    func invalid(variable: String, value: String, setting: String) {
        var environment = Self.base
        environment[variable] = value
        let message = Self.message(environment)
        #expect(message?.contains(setting) == true)
        #expect(message?.contains("s3cret-pw") == false)
    }

    @Test("a missing password is reported by name")
    func missingSecret() {
        var environment = Self.base
        environment["IMSGW_IAM_PASSWORD"] = nil
        #expect(Self.message(environment) == "setting iam.password (or iam.passwordFile) is required")
    }

    @Test("aksk mode needs no IAM settings; the secret key is redacted everywhere")
    func accessKeyMode() throws {
        let configuration = try Self.load([
            "IMSGW_IMS_URL": "https://ims.example.com", "IMSGW_CREDENTIALS_MODE": "aksk",
            "IMSGW_AKSK_ACCESS_KEY": "HPUAEXAMPLEAK0000001", "IMSGW_AKSK_SECRET_KEY": "very-secret-sk",
            "IMSGW_PROBE_PROJECT_ID": "0123456789abcdef0123456789abcdef", "IMSGW_INSECURE_NO_AUTH": "true",
        ])
        guard case .accessKey(let accessKey, let secretKey) = configuration.credentials else {
            Issue.record("not aksk")
            return
        }
        #expect(accessKey == "HPUAEXAMPLEAK0000001")
        #expect(secretKey == "very-secret-sk")
        #expect(!"\(configuration.credentials)".contains("very-secret-sk"))
        let printed = configuration.effectiveSettings().map { "\($0.key): \($0.value)" }.joined(separator: "\n")
        #expect(printed.contains("aksk.secretKey: <redacted>"))
        #expect(!printed.contains("very-secret-sk"))
    }

    @Test("a password file wins over the variable and is trimmed")
    func passwordFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pw-\(UUID().uuidString)").path
        try "from-file\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var environment = Self.base
        environment["IMSGW_IAM_PASSWORD_FILE"] = path
        guard case .password(let password) = try Self.load(environment).credentials else {
            Issue.record("not password")
            return
        }
        #expect(password.password == "from-file")
    }

    @Test("load reports the keys it read, so that unknown flags can be refused")
    func usedKeys() throws {
        let provider = EnvironmentVariablesProvider(environmentVariables: Self.base).prefixKeys(with: ["imsgw"])
        let loaded = try GatewayConfiguration.load(from: ConfigReader(provider: provider))
        #expect(loaded.usedKeys.isSuperset(of: ["ims.url", "iam.user", "maxImagesPerJob", "poll.initialMs", "probe.projectId"]))
        #expect(!loaded.usedKeys.contains("aksk.secretKey"))
    }

    @Test("client authentication: a clients file, or --insecure-no-auth, exactly one of them")
    func clientAuthentication() throws {
        var environment = Self.base
        environment["IMSGW_INSECURE_NO_AUTH"] = nil
        #expect(Self.message(environment)?.hasPrefix("setting clients.file is required") == true)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("clients.json")
        let hash = ClientKey.sha256Hex("portal-key-0123456789")
        try #"{"clients": [{"name": "portal", "key_sha256": ["\#(hash)"], "projects": ["*"]}]}"#
            .write(to: file, atomically: true, encoding: .utf8)
        environment["IMSGW_CLIENTS_FILE"] = file.path
        environment["IMSGW_CLIENTS_DEFAULT_RATE"] = "2.5"
        environment["IMSGW_CLIENTS_DEFAULT_BURST"] = "4"
        let configuration = try Self.load(environment)
        guard case .clients(let registry) = configuration.clientAuthentication else {
            Issue.record("no clients file in force")
            return
        }
        let portal = registry.authenticate(bearerKey: "portal-key-0123456789")
        #expect(portal?.name == "portal")
        #expect(portal?.rateLimit == ClientRateLimit(rate: 2.5, burst: 4))
        #expect(configuration.effectiveSettings().contains { $0.key == "clients.file" && $0.value == file.path })

        environment["IMSGW_INSECURE_NO_AUTH"] = "true"
        #expect(Self.message(environment) == "settings clients.file and insecureNoAuth exclude each other: give one")
        environment["IMSGW_INSECURE_NO_AUTH"] = nil
        environment["IMSGW_CLIENTS_FILE"] = folder.appendingPathComponent("missing.yaml").path
        #expect(Self.message(environment)?.hasPrefix("setting clients.file: ") == true)
    }

    @Test("stored outcomes and the background wait have defaults and settings")
    func outcomeSettings() throws {
        let defaults = try Self.load(Self.base)
        #expect(defaults.maxBackgroundWaitSeconds == 3600)
        #expect(defaults.outcomeMaxPerClient == 10_000)
        #expect(defaults.outcomeTTLSeconds == 86_400)
        #expect(defaults.outcomeReapIntervalSeconds == 60)
        #expect(defaults.defaultClientRateLimit == ClientRateLimit(rate: 5, burst: 10))
        var environment = Self.base
        environment["IMSGW_WAIT_MAX_BACKGROUND_SECONDS"] = "600"
        environment["IMSGW_OUTCOMES_MAX_PER_CLIENT"] = "50"
        environment["IMSGW_STORE_URL"] = "sqlite:/var/lib/ims-gateway/state.sqlite"
        environment["IMSGW_OUTCOMES_TTL_SECONDS"] = "120"
        environment["IMSGW_OUTCOMES_REAP_INTERVAL_SECONDS"] = "5"
        let configuration = try Self.load(environment)
        #expect(configuration.outcomeReapIntervalSeconds == 5)
        #expect(configuration.maxBackgroundWaitSeconds == 600)
        #expect(configuration.outcomeMaxPerClient == 50)
        #expect(configuration.outcomeTTLSeconds == 120)
        #expect(configuration.storeURL == "sqlite:/var/lib/ims-gateway/state.sqlite")
        #expect(defaults.storeURL == "sqlite:ims-gateway.sqlite")
        environment["IMSGW_STORE_URL"] = "postgres://gw@db/gw?sslmode=verify-full"
        environment["IMSGW_STORE_PASSWORD"] = "pg-s3cret"
        let postgres = try Self.load(environment)
        #expect(postgres.storeURL == "postgres://gw@db/gw?sslmode=verify-full")
        #expect(postgres.storePassword == "pg-s3cret")
        #expect(postgres.effectiveSettings().contains { $0 == ("store.password", "<redacted>") })
        #expect(!postgres.effectiveSettings().contains { $0.1.contains("pg-s3cret") })
        environment["IMSGW_STORE_PASSWORD"] = nil
        // A password in the URL is refused, and not echoed.
        environment["IMSGW_STORE_URL"] = "postgres://gw:pg-s3cret@db/gw"
        let inURL = try #require(Self.message(environment))
        #expect(inURL.hasPrefix("setting store.url: the PostgreSQL URL holds a password"))
        #expect(!inURL.contains("pg-s3cret"))
        environment["IMSGW_STORE_URL"] = "sqlite:"
        #expect(Self.message(environment) == "setting store.url: 'sqlite:' names no file (sqlite:PATH)")
        environment["IMSGW_STORE_URL"] = "sqlite:///"
        #expect(Self.message(environment) == "setting store.url: 'sqlite:///' names no file (sqlite:PATH)")
        environment["IMSGW_STORE_URL"] = "mysql://gw@db/gw"
        #expect(
            Self.message(environment)
                == "setting store.url: 'mysql://<redacted>@db/gw' is neither sqlite:PATH nor postgres://USER@HOST:PORT/DATABASE")
        #expect(StoreLocation.redacted("postgres://gw:s3cret@db:5432/gw") == "postgres://<redacted>@db:5432/gw")
        #expect(StoreLocation.redacted("sqlite:/var/lib/x.sqlite") == "sqlite:/var/lib/x.sqlite")
        environment["IMSGW_STORE_URL"] = nil
        environment["IMSGW_OUTCOMES_TTL_SECONDS"] = "0"
        #expect(Self.message(environment) == "setting outcomes.ttlSeconds: '0' is not a whole number from 1 to 2592000")
        environment["IMSGW_OUTCOMES_TTL_SECONDS"] = nil
        environment["IMSGW_OUTCOMES_REAP_INTERVAL_SECONDS"] = "0"
        #expect(Self.message(environment) == "setting outcomes.reapIntervalSeconds: '0' is not a whole number from 1 to 86400")
    }

    @Test("every key read in every credentials mode is a known key, and maps to its IMSGW_ variable")
    func knownKeysCoverEveryRead() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let credentials = folder.appendingPathComponent("credentials.json")
        try "{}".write(to: credentials, atomically: true, encoding: .utf8)
        var aksk = Self.base
        aksk["IMSGW_CREDENTIALS_MODE"] = "aksk"
        aksk["IMSGW_AKSK_ACCESS_KEY"] = "AK"
        aksk["IMSGW_AKSK_SECRET_KEY"] = "SK"
        var temporary = Self.base
        temporary["IMSGW_CREDENTIALS_MODE"] = "temporary"
        temporary["IMSGW_AKSK_TEMPORARY_CREDENTIALS_FILE"] = credentials.path
        for environment in [Self.base, aksk, temporary] {
            let provider = EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ["imsgw"])
            let used = try GatewayConfiguration.load(from: ConfigReader(provider: provider)).usedKeys
            #expect(used.subtracting(GatewayConfiguration.knownKeys).isEmpty, "\(used.subtracting(GatewayConfiguration.knownKeys))")
        }
        #expect(GatewayConfiguration.environmentVariable(for: "poll.initialMs") == "IMSGW_POLL_INITIAL_MS")
        #expect(GatewayConfiguration.environmentVariable(for: "insecureNoAuth") == "IMSGW_INSECURE_NO_AUTH")
        #expect(GatewayConfiguration.environmentVariable(for: "aksk.temporaryCredentialsFile") == "IMSGW_AKSK_TEMPORARY_CREDENTIALS_FILE")
    }
}

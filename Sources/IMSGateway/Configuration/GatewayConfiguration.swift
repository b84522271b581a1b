import IMSClient

/// Every setting of the gateway, with the defaults of docs/ARCHITECTURE.md, "Defaults".
public struct GatewayConfiguration: Sendable {
    /// Address to listen on (default `127.0.0.1`).
    public var host: String = "127.0.0.1"
    /// TCP port to listen on (default 8080; 0 picks a free one).
    public var port: Int = 8080
    /// IMS endpoint, e.g. `https://ims.cn-north-4.myhuaweicloud.com`.
    public var imsBaseURL: String
    /// IAM endpoint, e.g. `https://iam.cn-north-4.myhuaweicloud.com`.
    public var iamBaseURL: String
    /// How the gateway authenticates to IMS.
    public var credentials: UpstreamCredentials
    /// The project whose token (or signed ShowJob) proves the credentials for `GET /readyz`;
    /// nil leaves readiness unproven (503).
    public var probeProjectID: String?
    /// How often proven credentials are proven again, in seconds (default 300).
    public var readinessRecheckSeconds: Int = 300
    /// Most images one request may name (default 1,000).
    public var maxImagesPerRequest: Int = 1000
    /// Most images per IMS job (default 20).
    public var maxImagesPerJob: Int = 20
    /// Batches of one request submitted and waited on at once (default 8).
    public var fanOutPerRequest: Int = 8
    /// Upstream HTTP transfers (connections) at once, all requests together (default 64).
    public var maxUpstreamTransfers: Int = 64
    /// Wait when the caller sends no `Prefer: wait`, in seconds (default 300).
    public var defaultWaitSeconds: Int = 300
    /// Longest wait a caller may ask for, in seconds (default 900).
    public var maxWaitSeconds: Int = 900
    /// Seconds a connection may send nothing while idle or while a request is being read
    /// before it is closed (default 30). A request being answered is never cut by it.
    public var idleTimeoutSeconds: Int = 30
    /// Most accept/reject requests in progress at once; more are answered 503 with
    /// `Retry-After` (default 10,000).
    public var maxCallersWaiting: Int = 10_000
    /// Largest request body, in bytes (default 256 KiB).
    public var maxBodyBytes: Int = 256 * 1024
    /// When jobs are polled (before anything is learned, and always when `adaptivePolling`
    /// is off).
    public var pollSchedule: PollSchedule = PollSchedule()
    /// Whether the first poll of a job is learned from earlier jobs of the same batch size
    /// (``AdaptivePollPlanner``; default on).
    public var adaptivePolling: Bool = true
    /// Connect limit of one upstream call, in milliseconds (default 5,000).
    public var upstreamConnectTimeoutMilliseconds: Int = 5000
    /// Total limit of one upstream call, in milliseconds (default 30,000).
    public var upstreamTimeoutMilliseconds: Int = 30_000
    /// Seconds before `expires_at` at which an IAM token is renewed (default 1,800).
    public var tokenRefreshMarginSeconds: Int = 1800
    /// The account's IMS call budget: calls per second of every IMS call, submits and polls
    /// alike (default 2; docs/ARCHITECTURE.md, "Defaults"). Set it below IMS's own limit for
    /// the account.
    public var upstreamRate: Double = 2
    /// Calls of the budget that may go at once after a quiet spell (default 10).
    public var upstreamBurst: Int = 10
    /// Longest pause of the whole IMS call budget after an IMS 429, in seconds: a longer
    /// `Retry-After` is cut to it and logged (default 300).
    public var upstreamMaxPauseSeconds: Int = 300
    /// Most attempts at submitting one batch (default 4).
    public var maxSubmitAttempts: Int = 4
    /// The job query API (default ShowJob, the one with per-image results).
    public var jobQuery: IMSClientConfiguration.JobQuery = .showJob
    /// Seconds that requests already waiting may go on waiting after SIGTERM or SIGINT before
    /// those still pending are answered 504 and the server stops (default 25).
    public var drainTimeoutSeconds: Int = 25
    /// PEM CA bundle for HTTPS to IMS and IAM; nil uses the system's.
    public var caBundlePath: String?
    /// How callers are authenticated. The default has no client at all, so that nobody can
    /// call a gateway that was not told who may.
    public var clientAuthentication: ClientAuthentication = .clients(ClientRegistry(entries: []))
    /// The rate limit of a client for which the clients file gives none (default 5 per second,
    /// burst 10).
    public var defaultClientRateLimit = ClientRateLimit(rate: 5, burst: 10)
    /// Most requests of one client not yet final (waiting, or waited on in the background)
    /// at once, unless the clients file gives the client its own `max_pending_requests`; more
    /// are refused with 429 (default 200).
    public var maxPendingRequestsPerClient: Int = 200
    /// Most requests one client may have stored (running and finished) before its new
    /// requests with an `Idempotency-Key` are refused with 429 (default 10,000): no client's
    /// traffic evicts another's stored outcomes.
    public var outcomeMaxPerClient: Int = 10_000
    /// Where requests are stored: `sqlite:PATH` (default `sqlite:ims-gateway.sqlite`, relative
    /// to the working directory) or `postgres://USER@HOST:PORT/DATABASE?sslmode=...`
    /// (docs/ARCHITECTURE.md, "State and recovery" and "Replicas").
    public var storeURL: String = Self.defaultStoreURL
    /// The PostgreSQL role's password (`store.password`, from the environment only, or the
    /// file `store.passwordFile` names); nil for none or an SQLite store. Never printed.
    public var storePassword: String?
    /// `store.url` when none is given.
    public static let defaultStoreURL = "sqlite:ims-gateway.sqlite"
    /// How long a replica's lease on a running request lasts after it was taken or renewed,
    /// in seconds of the database's clock (default 30; PostgreSQL store only): a replica that
    /// is killed or cut off has its requests taken over by another this long after its last
    /// renewal (docs/ARCHITECTURE.md, "Replicas").
    public var storeLeaseSeconds: Int = 30
    /// How often a replica renews its leases and looks for expired ones to take over, in
    /// seconds (default 10; below `store.leaseSeconds`).
    public var storeLeaseRenewSeconds: Int = 10
    /// How long an outcome is kept after the request ended, in seconds (default 86,400).
    public var outcomeTTLSeconds: Int = 86_400
    /// How often the reaper looks for expired outcomes, in seconds (default 60); each pass
    /// deletes them in batches of 500.
    public var outcomeReapIntervalSeconds: Int = 60
    /// How long after a request arrived the gateway may still wait for its jobs in the
    /// background once the caller was answered 504, in seconds (`max_background_wait`,
    /// default 3,600).
    public var maxBackgroundWaitSeconds: Int = 3600
    /// Seconds between two comment lines of an idle event stream (default 15), so that
    /// proxies do not cut it.
    public var eventsKeepAliveSeconds: Int = 15
    /// Most event streams one client holds open at once on this gateway (default 20).
    public var eventsMaxStreamsPerClient: Int = 20
    /// Most event streams open at once on this gateway, all clients together (default 1,000).
    public var eventsMaxStreams: Int = 1000
    /// The origins whose browser pages may call the gateway (CORS, exact matches such as
    /// `https://portal.example.com`); empty (the default) turns CORS off.
    public var corsAllowedOrigins: [String] = []
    /// How long a browser may keep a preflight's answer, in seconds (default 600).
    public var corsMaxAgeSeconds: Int = 600
    /// The HS256 key browser tokens are signed with (`browserTokens.secret`, environment or
    /// file only; the same on every replica); nil turns `POST /browser-tokens` off.
    public var browserTokensSecret: String?
    /// The longest lifetime of a browser token, in seconds (default and most 900).
    public var browserTokensMaxTTLSeconds: Int = 900

    /// Creates a configuration with the defaults for everything but the upstream.
    /// - Parameters:
    ///   - imsBaseURL: IMS endpoint.
    ///   - iamBaseURL: IAM endpoint (used by password credentials).
    ///   - credentials: how to authenticate to IMS.
    ///   - probeProjectID: the project readiness probes use (32 hex), or nil.
    public init(imsBaseURL: String, iamBaseURL: String, credentials: UpstreamCredentials, probeProjectID: String? = nil) {
        self.imsBaseURL = imsBaseURL
        self.iamBaseURL = iamBaseURL
        self.credentials = credentials
        self.probeProjectID = probeProjectID
    }
}

/// How the gateway authenticates to IMS (docs/ARCHITECTURE.md, "Credentials").
public enum UpstreamCredentials: Sendable, CustomStringConvertible {
    /// An IAM user's password: project-scoped tokens sent as `X-Auth-Token`.
    case password(IAMPasswordCredentials)
    /// A permanent access key: every IMS request signed with SDK-HMAC-SHA256.
    case accessKey(accessKey: String, secretKey: String)
    /// Temporary access keys with a security token, read from a JSON file that a sidecar or a
    /// rotating secret rewrites (`{"credential": {"access", "secret", "securitytoken", "expires_at"}}`).
    case temporaryAccessKeyFile(path: String)

    /// The mode name used in configuration: `password`, `aksk` or `temporary`.
    public var mode: String {
        switch self {
        case .password: return "password"
        case .accessKey: return "aksk"
        case .temporaryAccessKeyFile: return "temporary"
        }
    }

    public var description: String {
        switch self {
        case .password(let credentials): return "password(\(credentials))"
        case .accessKey(let accessKey, _): return "aksk(access key \(accessKey), secret key <redacted>)"
        case .temporaryAccessKeyFile(let path): return "temporary(file \(path))"
        }
    }
}

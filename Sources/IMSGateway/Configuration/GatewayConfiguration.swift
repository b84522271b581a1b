import IMSClient

/// Every setting of the gateway, with the defaults of DESIGN.md section 4.
public struct GatewayConfiguration: Sendable {
    /// Address to listen on (default `127.0.0.1`).
    public var host: String = "127.0.0.1"
    /// TCP port to listen on (default 8080; 0 picks a free one).
    public var port: Int = 8080
    /// IMS endpoint, e.g. `https://ims.cn-north-4.myhuaweicloud.com`.
    public var imsBaseURL: String
    /// IAM endpoint, e.g. `https://iam.cn-north-4.myhuaweicloud.com`.
    public var iamBaseURL: String
    /// The IAM user the gateway acts as. The password is secret.
    public var credentials: IAMPasswordCredentials
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
    /// Largest request body, in bytes (default 256 KiB).
    public var maxBodyBytes: Int = 256 * 1024
    /// When jobs are polled.
    public var pollSchedule: PollSchedule = PollSchedule()
    /// Connect limit of one upstream call, in milliseconds (default 5,000).
    public var upstreamConnectTimeoutMilliseconds: Int = 5000
    /// Total limit of one upstream call, in milliseconds (default 30,000).
    public var upstreamTimeoutMilliseconds: Int = 30_000
    /// Seconds before `expires_at` at which an IAM token is renewed (default 1,800).
    public var tokenRefreshMarginSeconds: Int = 1800
    /// Most attempts at submitting one batch (default 4).
    public var maxSubmitAttempts: Int = 4
    /// The job query API (default ShowJob, the one with per-image results).
    public var jobQuery: IMSClientConfiguration.JobQuery = .showJob
    /// PEM CA bundle for HTTPS to IMS and IAM; nil uses the system's.
    public var caBundlePath: String?

    /// Creates a configuration with the defaults for everything but the upstream.
    public init(imsBaseURL: String, iamBaseURL: String, credentials: IAMPasswordCredentials) {
        self.imsBaseURL = imsBaseURL
        self.iamBaseURL = iamBaseURL
        self.credentials = credentials
    }
}

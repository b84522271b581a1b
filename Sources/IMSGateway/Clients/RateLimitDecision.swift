import HTTPTypes
import IMSClient

/// The answer of the inbound rate limiter to one request, with the response fields it implies.
public struct RateLimitDecision: Sendable, Equatable {
    /// Whether the request may proceed (a token was taken).
    public var admitted: Bool
    /// The limit applied to the client.
    public var limit: ClientRateLimit
    /// Whole tokens (requests) left after this call.
    public var remaining: Int
    /// When refused: whole seconds until a token exists, rounded up, at least 1. 0 when admitted.
    public var retryAfterSeconds: Int
    /// Whole seconds until the bucket is full again, rounded up; 0 when it is full.
    public var resetSeconds: Int

    /// Creates a decision from its values (seconds are whole seconds, see the properties).
    public init(admitted: Bool, limit: ClientRateLimit, remaining: Int, retryAfterSeconds: Int, resetSeconds: Int) {
        self.admitted = admitted
        self.limit = limit
        self.remaining = remaining
        self.retryAfterSeconds = retryAfterSeconds
        self.resetSeconds = resetSeconds
    }

    /// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers-10): the quota policies applied.
    public static let rateLimitPolicyHeader = HTTPField.Name("RateLimit-Policy")!
    /// `RateLimit` (draft-ietf-httpapi-ratelimit-headers-10): the state of each quota policy.
    public static let rateLimitHeader = HTTPField.Name("RateLimit")!
    /// `Retry-After` (RFC 9110), in whole seconds.
    public static let retryAfterHeader = ResponseFactory.retryAfterHeader

    /// The policy's name in both fields.
    private static let policyName = "client"

    /// `RateLimit-Policy: "client";q=<burst>;w=<window>` and `RateLimit: "client";r=<remaining>;t=<reset>`
    /// in draft-ietf-httpapi-ratelimit-headers-10 syntax, plus `Retry-After: <seconds>` when refused.
    /// The quota `q` is the burst applied (at least 1) and the window `w` the whole seconds, rounded
    /// up and at least 1, in which an empty bucket refills completely.
    public var headerFields: HTTPFields {
        let applied = TokenBucketLimits(rate: limit.rate, burst: limit.burst)
        var fields = HTTPFields()
        fields[Self.rateLimitPolicyHeader] = "\"\(Self.policyName)\";q=\(applied.burst);w=\(applied.refillSeconds)"
        fields[Self.rateLimitHeader] = "\"\(Self.policyName)\";r=\(max(0, remaining));t=\(max(0, resetSeconds))"
        if !admitted {
            fields[Self.retryAfterHeader] = String(max(1, retryAfterSeconds))
        }
        return fields
    }
}

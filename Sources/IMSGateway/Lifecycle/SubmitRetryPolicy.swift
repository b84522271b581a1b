import IMSClient

/// When a failed submit is repeated (docs/ARCHITECTURE.md, "Submitting"): no answer at all
/// (connect refused, DNS, reset, timeout) or a 5xx is repeated with exponential backoff and
/// jitter, up to `maxAttempts` and never past the deadline; other 4xx and authentication
/// failures are final.
/// A 429 is waited out and sent again by ``IMSClient`` itself (the call budget's pause); one
/// that still ends the call arrives here as `throttled`, which is final.
public struct SubmitRetryPolicy: Sendable {
    /// Most attempts, the first included.
    public var maxAttempts: Int
    /// Backoff before the second attempt; doubled for each later one.
    public var baseDelay: Duration
    /// Longest backoff.
    public var maxDelay: Duration

    /// Creates a policy (defaults: 4 attempts, 200 ms doubling to at most 5 s).
    public init(maxAttempts: Int = 4, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(5)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Whether `error` is worth another attempt.
    public func isRetryable(_ error: IMSClientError) -> Bool {
        switch error {
        case .transport: return true
        case .upstream(let upstream): return upstream.isThrottled || upstream.isServerError
        // Throttling was already waited out to the deadline by the IMS client.
        case .authentication, .malformedResponse, .credentials, .throttled: return false
        }
    }

    /// The pause before attempt `attempt` (2 = first retry), with ±50 % jitter; a
    /// `Retry-After` in seconds from IMS replaces it.
    public func delay(beforeAttempt attempt: Int, after error: IMSClientError) -> Duration {
        if case .upstream(let upstream) = error, let retryAfter = RetryAfter.delay(upstream.retryAfter) {
            return retryAfter
        }
        var delay = baseDelay
        for _ in 2..<max(2, attempt) { delay = min(delay * 2, maxDelay) }
        return delay * Double.random(in: 0.5...1.5)
    }
}

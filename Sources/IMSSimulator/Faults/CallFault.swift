/// A fault applied to calls of one operation (or of all): the next ``count`` matching calls, or
/// every one when ``count`` is `nil`. Sent in the `calls` array of `PUT /_sim/faults`, e.g.
/// `{"fault": "http_error", "operation": "ShowJob", "count": 3, "status": 503}`.
public struct CallFault: Sendable, Equatable {
    /// What `Retry-After` a ``Kind/throttle(retryAfter:)`` answer carries.
    public enum RetryAfter: Sendable, Equatable {
        /// No `Retry-After` header (JSON `"retry_after": "none"`).
        case none
        /// `Retry-After: N`, delay-seconds (JSON `"retry_after": "seconds"`, `"retry_after_seconds": N`).
        case seconds(Int)
        /// `Retry-After: <IMF-fixdate>` N seconds from now (JSON `"retry_after": "http_date"`).
        case httpDate(secondsFromNow: Int)
        /// `Retry-After: soon, maybe`: neither form (JSON `"retry_after": "garbage"`).
        case garbage
    }

    /// What happens to a call the fault applies to.
    public enum Kind: Sendable, Equatable {
        /// Answer `status` (4xx/5xx) with IMS's error body `{"error": {"code", "message"}}`
        /// instead of handling the call (JSON `"fault": "http_error"`, `"status"`, optional
        /// `"error_code"` and `"message"`). The default codes (`IMG.0500` for 500, `IMG.0503`
        /// for 503, `IMG.0<status>` otherwise) are assumed: no IMS page lists them.
        case httpError(status: Int, errorCode: String, message: String)
        /// Close the connection without answering (JSON `"fault": "close"`); with `reset` the
        /// close is abortive (SO_LINGER 0: a TCP RST) (JSON `"reset": true`). libcurl sends a
        /// request again, once, on a new connection when a reused one closes before any byte of
        /// the answer: to fail one call of a client on a reused connection, count 2 closes.
        case close(reset: Bool)
        /// Wait this long, in milliseconds, before handling the call (JSON `"fault": "delay"`,
        /// `"delay_ms"`). Combines with one other fault on the same call.
        case delay(milliseconds: Int)
        /// Handle the call, then send only the first half of the JSON body, with a matching
        /// `Content-Length` (JSON `"fault": "malformed_json"`).
        case malformedJSON
        /// Answer 429 `{"error_code": "APIGW.0308", ...}` with this `Retry-After` (JSON
        /// `"fault": "throttle"`).
        case throttle(retryAfter: RetryAfter)

        /// The fault's JSON name, also its key in `faults_injected`.
        public var name: String {
            switch self {
            case .httpError: "http_error"
            case .close: "close"
            case .delay: "delay"
            case .malformedJSON: "malformed_json"
            case .throttle: "throttle"
            }
        }
    }

    /// What the fault does.
    public var kind: Kind
    /// The operation it applies to, as counted in `/_sim/stats` `calls` (`BatchUpdateMembers`,
    /// `ShowJob`, `ShowJobProgress`, `KeystoneCreateUserTokenByPassword`); `nil` for all.
    public var operation: String?
    /// How many calls it applies to before it is used up; `nil` for every call.
    public var count: Int?

    /// Creates a call fault.
    /// - Parameters:
    ///   - kind: what it does.
    ///   - operation: the operation it applies to, or `nil` for all.
    ///   - count: the next N matching calls, or `nil` for always.
    public init(_ kind: Kind, operation: String? = nil, count: Int? = nil) {
        self.kind = kind
        self.operation = operation
        self.count = count
    }

    /// The operations a fault may name.
    public static let operations: Set<String> = [
        "BatchUpdateMembers", "ShowJob", "ShowJobProgress", "KeystoneCreateUserTokenByPassword",
    ]
}

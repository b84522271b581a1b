import Hummingbird

/// The per-request context of the gateway: Hummingbird's core context plus the request id
/// that every answer and log line carries.
public struct GatewayRequestContext: RequestContext {
    /// Hummingbird's storage (logger, allocator, parameters).
    public var coreContext: CoreRequestContextStorage
    /// The gateway's id of this request, a new UUID; set by ``GatewayEdgeMiddleware``.
    public var requestID: String = ""
    /// The caller's `X-Request-Id` when plain enough, else ``requestID``: echoed in the
    /// answer, logged, and sent upstream.
    public var correlationID: String = ""
    /// The authenticated client of an accept/reject request; set by the client middleware.
    public var client: ClientIdentity?
    /// The page origin of the browser token the request came with (docs/ARCHITECTURE.md,
    /// "Portals"); nil for a client key.
    public var browserTokenOrigin: String?

    /// Creates a context for one request.
    public init(source: Source) {
        self.coreContext = .init(source: source)
    }
}

import Foundation
import IMSClient

/// What identifies one accept/reject request and never changes while it lives: its ids, its
/// client, its validated plan, its `Idempotency-Key` and its deadlines. Where it stands is its
/// ``LifecycleDriver``'s (while it runs here) or the store's.
public final class StoredRequest: Sendable {
    /// The gateway's id of the request (`request_id` of its answers), a UUID it made.
    public let requestID: String
    /// The caller's correlation id (its `X-Request-Id`, or the request id): sent upstream.
    public let correlationID: String
    /// The client that sent it (from the clients file).
    public let clientName: String
    /// The route it came to, e.g. `/accept-images`.
    public let route: String
    /// The validated request.
    public let plan: MemberStatusPlan
    /// SHA-256 (hex) of what makes two bodies "the same request": member status, project,
    /// vault and the normalised images in order.
    public let fingerprint: String
    /// The caller's `Idempotency-Key`, if it sent one.
    public let idempotencyKey: String?
    /// When the request arrived (for `elapsed_ms`).
    public let started: ContinuousClock.Instant
    /// When the request arrived, on the wall clock (what the store keeps).
    public let createdAt: Date
    /// When the background wait for its jobs gives up (`wait.maxBackgroundSeconds` after it
    /// arrived, or after a repeat resumed it).
    public let backgroundUntil: ContinuousClock.Instant
    /// The client as a caller of the IMS call budget (its name and weight when it arrived).
    public let upstreamCaller: UpstreamCaller

    /// A request as it starts, or as it is resumed from the store.
    /// - Parameters:
    ///   - weight: the client's share of the IMS call budget (1 unless the clients file gives
    ///     one).
    ///   - backgroundUntil: when the background wait gives up.
    public init(
        requestID: String, correlationID: String? = nil, clientName: String, route: String? = nil,
        plan: MemberStatusPlan, idempotencyKey: String?,
        started: ContinuousClock.Instant, createdAt: Date = Date(), backgroundUntil: ContinuousClock.Instant,
        weight: Double = 1
    ) {
        self.requestID = requestID
        self.correlationID = correlationID ?? requestID
        self.clientName = clientName
        self.route = route ?? (plan.memberStatus == .accepted ? "/accept-images" : "/reject-images")
        self.upstreamCaller = UpstreamCaller(client: clientName, weight: weight)
        self.plan = plan
        self.fingerprint = plan.fingerprint
        self.idempotencyKey = idempotencyKey
        self.started = started
        self.createdAt = createdAt
        self.backgroundUntil = backgroundUntil
    }
}

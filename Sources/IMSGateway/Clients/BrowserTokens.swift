import Foundation
import JWTKit

/// Short-lived tokens a portal's backend gets for its browser page (docs/ARCHITECTURE.md,
/// "Portals"): a JWT (RFC 7519) signed HS256 with `browserTokens.secret` (vapor/jwt-kit),
/// scoped to one client, a subset of its projects and one page origin, valid at most
/// `browserTokens.maxTtlSeconds` (at most 900 s). Every replica verifies what any signed, as
/// long as they share the secret. The client key never reaches the browser.
final class BrowserTokens: Sendable {
    /// The claims of a browser token: `iss` ``issuer``, `aud` ``audience``, `sub` the client's
    /// name, `iat` and `exp` (seconds since the epoch), `jti` a random id, plus `origin` (the
    /// page's exact origin) and `projects` (the `project_id`s it may use).
    struct Claims: JWTPayload, Equatable {
        var iss: IssuerClaim
        var aud: AudienceClaim
        var sub: SubjectClaim
        var iat: IssuedAtClaim
        var exp: ExpirationClaim
        var jti: IDClaim
        var origin: String
        var projects: [String]

        /// The client's name (`sub`).
        var client: String { sub.value }

        /// The signature was checked by jwt-kit; the times are checked by
        /// ``BrowserTokens/verify(_:now:)`` against its clock.
        func verify(using algorithm: some JWTAlgorithm) async throws {
            try aud.verifyIntendedAudience(includes: BrowserTokens.audience)
            guard iss.value == BrowserTokens.issuer else { throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "not this gateway's") }
        }
    }

    /// Why a token was refused (never says more: a guessed token learns nothing).
    enum Refusal: Error, Equatable {
        /// Not a JWT of this gateway: malformed, another algorithm or key, a changed byte.
        case invalid
        /// Past its `exp`, or made to live longer than the gateway allows.
        case expired
    }

    /// `iss` of every browser token.
    static let issuer = "ims-gateway"
    /// `aud` of every browser token: they are for the member-status routes of a gateway.
    static let audience = "ims-gateway-browser"

    /// The longest lifetime a token may have, in seconds.
    let maxLifetimeSeconds: Int
    private let keys: JWTKeyCollection
    private let ready: Task<Void, Never>

    /// - Parameters:
    ///   - secret: the HS256 key (at least 32 bytes; `browserTokens.secret`).
    ///   - maxLifetimeSeconds: the longest lifetime of a token (at most 900).
    init(secret: String, maxLifetimeSeconds: Int) {
        let keys = JWTKeyCollection()
        self.keys = keys
        self.maxLifetimeSeconds = min(900, max(1, maxLifetimeSeconds))
        ready = Task { await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256) }
    }

    /// A token for `client`'s page at `origin`, for `projects`, valid `lifetimeSeconds` from `now`.
    /// - Returns: the compact JWT and when it expires.
    /// - Throws: what jwt-kit throws when it cannot sign (not expected with an HMAC key).
    func issue(
        client: String, origin: String, projects: [String], lifetimeSeconds: Int, now: Date = Date()
    ) async throws -> (token: String, expiresAt: Date) {
        await ready.value
        let issued = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        let expires = issued.addingTimeInterval(TimeInterval(min(lifetimeSeconds, maxLifetimeSeconds)))
        let claims = Claims(
            iss: IssuerClaim(value: Self.issuer), aud: AudienceClaim(value: [Self.audience]), sub: SubjectClaim(value: client),
            iat: IssuedAtClaim(value: issued), exp: ExpirationClaim(value: expires), jti: IDClaim(value: UUID().uuidString.lowercased()),
            origin: origin, projects: projects)
        return (try await keys.sign(claims), expires)
    }

    /// The claims of `token` when this gateway's key signed it and it has not expired at `now`.
    func verify(_ token: String, now: Date = Date()) async -> Result<Claims, Refusal> {
        await ready.value
        // One spelling only: unpadded base64url parts, and the header this gateway writes
        // (HS256; jwt-kit picks the key by `kid` and does not hold `alg` to it).
        guard !token.contains("="), Self.headerAlgorithm(token) == "HS256" else { return .failure(.invalid) }
        let claims: Claims
        do {
            claims = try await keys.verify(token, as: Claims.self)
        } catch {
            return .failure(.invalid)
        }
        let lifetime = claims.exp.value.timeIntervalSince(claims.iat.value)
        // Issued in the future (more than the clock skew replicas may have): not a token this
        // gateway made; it would outlive its lifetime.
        guard claims.iat.value <= now.addingTimeInterval(Self.clockSkewSeconds) else { return .failure(.invalid) }
        guard now < claims.exp.value, lifetime <= TimeInterval(maxLifetimeSeconds) else { return .failure(.expired) }
        return .success(claims)
    }

    /// How far a replica's clock may be ahead of another's, in seconds.
    static let clockSkewSeconds: TimeInterval = 60

    /// The `alg` of a compact JWT's header, or nil when the header is not base64url JSON.
    static func headerAlgorithm(_ token: String) -> String? {
        guard let part = token.split(separator: ".", maxSplits: 1).first else { return nil }
        var base64 = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64),
            let header = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { return nil }
        return header["alg"] as? String
    }

    /// Whether a bearer credential has the shape of a JWT (three base64url parts, the first a
    /// JSON header): only such are verified as browser tokens.
    static func looksLikeToken(_ credential: String) -> Bool {
        credential.hasPrefix("eyJ") && credential.split(separator: ".", omittingEmptySubsequences: false).count == 3
    }
}

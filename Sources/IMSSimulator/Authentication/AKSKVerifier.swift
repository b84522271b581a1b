import Foundation
import IMSClient

/// The simulated API gateway's check of an `Authorization: SDK-HMAC-SHA256 ...` request: it
/// rebuilds the canonical request from what was received and compares signatures
/// (docs/IMS-API.md, "Error bodies" and "AK/SK signing"). No I/O: the controller hands in the
/// request and the time.
struct AKSKVerifier: Sendable {
    /// How far `X-Sdk-Date` may be from the simulator's clock, in seconds (the API gateway's 15 minutes).
    static let maxClockSkewSeconds: TimeInterval = 15 * 60

    /// The parts of a received request that the signature covers.
    struct ReceivedRequest {
        /// HTTP method as received.
        var method: String
        /// The request target's path, as received (still percent-encoded).
        var path: String
        /// The request target's query without `?`, as received; `nil` when there is none.
        var query: String?
        /// Every received header field, with `Host` among them.
        var headers: [(name: String, value: String)]
        /// The received body bytes.
        var body: [UInt8]

        /// The values of the header `name`, compared case-insensitively, in received order.
        func values(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name }.map(\.value)
        }
    }

    /// What the gateway decides.
    enum Outcome: Equatable {
        /// The signature is valid; the call acts in `projectID` (its `X-Project-Id`).
        case verified(projectID: String)
        /// 401 with this API gateway error code (`APIGW.0301` or `APIGW.0307`) and message.
        case refused(code: String, message: String)
    }

    private let keys: [String: SimulatorConfiguration.AccessKey]

    /// - Parameter accessKeys: the accepted pairs; for a repeated AK the last one counts.
    init(accessKeys: [SimulatorConfiguration.AccessKey]) {
        var keys: [String: SimulatorConfiguration.AccessKey] = [:]
        for key in accessKeys { keys[key.accessKey] = key }
        self.keys = keys
    }

    /// Checks the signature of `request`.
    /// - Parameters:
    ///   - request: what was received.
    ///   - authorization: the received `Authorization` value.
    ///   - now: the gateway's clock.
    func verify(_ request: ReceivedRequest, authorization: String, now: Date) -> Outcome {
        guard let header = AuthorizationHeader.parse(authorization) else {
            return Self.invalid("the Authorization header is not SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...")
        }
        guard let key = keys[header.accessKey] else {
            return Self.invalid("the access key does not exist")
        }
        let signed = Set(header.signedHeaders)
        guard signed.contains("host"), signed.contains("x-sdk-date") else {
            return Self.invalid("host and x-sdk-date must be signed")
        }
        guard let sdkDate = request.values("x-sdk-date").last, let date = AKSKSigner.parseSDKDate(sdkDate) else {
            return Self.invalid("X-Sdk-Date is missing or not in the form yyyyMMdd'T'HHmmss'Z'")
        }
        guard abs(date.timeIntervalSince(now)) <= Self.maxClockSkewSeconds else {
            return Self.invalid("X-Sdk-Date is more than 15 minutes from the server time")
        }
        if let expected = key.securityToken {
            guard signed.contains("x-security-token"), let received = request.values("x-security-token").last,
                AKSKSigner.signaturesMatch(received, expected)
            else {
                return Self.invalid("the security token of temporary credentials is missing or wrong")
            }
        }
        for name in header.signedHeaders where request.values(name).isEmpty {
            return Self.invalid("the signed header \(name) is missing")
        }

        let covered = request.headers.filter { signed.contains($0.name.lowercased()) }
        let (canonical, signedHeaders) = AKSKSigner.canonicalRequest(
            method: request.method, path: request.path, query: request.query, headers: covered, body: request.body)
        let expected = AKSKSigner.signature(
            stringToSign: AKSKSigner.stringToSign(canonicalRequest: canonical, sdkDate: sdkDate), secretKey: key.secretKey)
        guard signedHeaders == header.signedHeaders.joined(separator: ";"),
            AKSKSigner.signaturesMatch(expected, header.signature)
        else {
            return Self.invalid("verify aksk signature fail")
        }

        if let expiresAt = key.expiresAt, expiresAt <= now {
            return .refused(code: "APIGW.0307", message: "The token must be updated: the temporary access key has expired.")
        }
        guard signed.contains("x-project-id"), let projectID = request.values("x-project-id").last, !projectID.isEmpty else {
            return Self.invalid("a signed X-Project-Id is required")
        }
        return .verified(projectID: projectID)
    }

    private static func invalid(_ reason: String) -> Outcome {
        .refused(code: "APIGW.0301", message: "Incorrect IAM authentication information: \(reason)")
    }
}

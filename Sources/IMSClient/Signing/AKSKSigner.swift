import Crypto
import Foundation

/// Signs requests with an access key / secret key pair the way Huawei Cloud's API gateway
/// expects (SDK-HMAC-SHA256), as `huaweicloudsdkcore/signer/signer.py` does
/// (docs/IMS-API.md, "AK/SK signing").
///
/// The static functions build each intermediate value, so a verifier can rebuild the signature
/// of a request it received. `description` never shows the secret key.
public struct AKSKSigner: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The algorithm name at the start of the `Authorization` value and of the string to sign.
    public static let algorithm = "SDK-HMAC-SHA256"
    /// Hex SHA-256 of no bytes: the payload hash of a request without a body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// The header carrying the signing time, `yyyyMMdd'T'HHmmss'Z'` in UTC.
    public static let sdkDateHeader = "X-Sdk-Date"
    /// The header naming the project the call acts in (`BasicCredentials.project_id`).
    public static let projectIDHeader = "X-Project-Id"
    /// The header carrying the security token of temporary (STS) credentials.
    public static let securityTokenHeader = "X-Security-Token"
    /// A header that, when present on a request with a body, replaces the payload hash
    /// (the SDK sets it to `UNSIGNED-PAYLOAD` for content types other than JSON and BSON).
    public static let contentSHA256Header = "X-Sdk-Content-Sha256"

    /// The access key (AK), sent in clear in `Authorization`.
    public let accessKey: String
    /// The secret key (SK). Secret: never logged, never sent.
    private let secretKey: String

    /// Creates a signer for one AK/SK pair.
    /// - Parameters:
    ///   - accessKey: the access key (AK).
    ///   - secretKey: the secret key (SK).
    public init(accessKey: String, secretKey: String) {
        self.accessKey = accessKey
        self.secretKey = secretKey
    }

    /// The AK and `<redacted>` in place of the SK.
    public var description: String { "AKSKSigner(accessKey: \(accessKey), secretKey: <redacted>)" }
    /// Same as ``description``.
    public var debugDescription: String { description }
    /// Only the AK, so `dump` and debuggers do not show the SK.
    public var customMirror: Mirror { Mirror(self, children: ["accessKey": accessKey], displayStyle: .struct) }

    /// Signs `request` in place.
    ///
    /// Sets `X-Sdk-Date`, `Host` (the URL's host, with its port when the URL names one),
    /// `X-Project-Id` and `X-Security-Token` (each only when given), then `Authorization`.
    /// Earlier values of these five headers are removed first, whatever their case, so a
    /// request signed before (a retry, a replay) is signed afresh. Every other header whose
    /// name has no `_` is signed as it stands; the body is hashed as it stands, so sign last.
    /// A request whose URL has no host is left unsigned.
    /// - Parameters:
    ///   - request: the request to sign; its URL is sent unchanged.
    ///   - projectID: the project the call acts in, or `nil` for none.
    ///   - securityToken: the security token of temporary credentials, or `nil`.
    ///   - date: the signing time (the API gateway refuses one more than 15 minutes off).
    public func sign(_ request: inout UpstreamRequest, projectID: String?, securityToken: String?, date: Date) {
        guard let parts = SigningURL(request.url) else { return }
        let managed: Set<String> = [
            Self.sdkDateHeader.lowercased(), "host", Self.projectIDHeader.lowercased(),
            Self.securityTokenHeader.lowercased(), "authorization",
        ]
        request.headers.removeAll { managed.contains($0.name.lowercased()) }
        request.headers.append((name: Self.sdkDateHeader, value: Self.sdkDate(date)))
        request.headers.append((name: "Host", value: parts.authority))
        if let projectID { request.headers.append((name: Self.projectIDHeader, value: projectID)) }
        if let securityToken { request.headers.append((name: Self.securityTokenHeader, value: securityToken)) }

        let (canonical, signedHeaders) = Self.canonicalRequest(
            method: request.method, path: parts.path, query: parts.query, headers: request.headers, body: request.body)
        let toSign = Self.stringToSign(canonicalRequest: canonical, sdkDate: Self.sdkDate(date))
        let header = AuthorizationHeader(
            accessKey: accessKey, signedHeaders: signedHeaders.split(separator: ";").map(String.init),
            signature: Self.signature(stringToSign: toSign, secretKey: secretKey))
        request.headers.append((name: "Authorization", value: header.value))
    }

    /// `date` as `X-Sdk-Date` writes it: `yyyyMMdd'T'HHmmss'Z'` in UTC, e.g. `20240102T030405Z`.
    public static func sdkDate(_ date: Date) -> String {
        let parts = Calendar.utc.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return pad(parts.year, 4) + pad(parts.month, 2) + pad(parts.day, 2) + "T"
            + pad(parts.hour, 2) + pad(parts.minute, 2) + pad(parts.second, 2) + "Z"
    }

    /// Reads an `X-Sdk-Date` value (`yyyyMMdd'T'HHmmss'Z'`, UTC).
    /// - Returns: the time, or `nil` when `value` is not exactly in that form.
    public static func parseSDKDate(_ value: String) -> Date? {
        let bytes = Array(value.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var result = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                result = result * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return result
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
            let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        let components = DateComponents(
            calendar: .utc, timeZone: .gmt, year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard components.isValidDate, let date = components.date else { return nil }
        return date
    }

    /// Builds the canonical request (step 6 of docs/IMS-API.md, "AK/SK signing").
    ///
    /// - Parameters:
    ///   - method: HTTP method; upper-cased.
    ///   - path: the path as sent, possibly percent-encoded. Like the SDK, it is percent-decoded
    ///     as a whole, split at `/`, each segment encoded again keeping only `A-Za-z0-9-._~`,
    ///     and ends with `/`.
    ///   - query: the query as sent, without `?`, or `nil`. Pairs are split at `&` and the first
    ///     `=`, percent-decoded (`+` stays `+`), sorted by key then value, encoded again and
    ///     joined with `&`; a key without `=` gets an empty value.
    ///   - headers: the headers to sign. Every name without `_` is signed, lower-cased; for a
    ///     name given twice the last value counts. Values are trimmed of white space.
    ///   - body: the body bytes as sent. Their hex SHA-256 is the payload hash, or
    ///     ``emptyPayloadHash`` when empty; a non-empty body with an ``contentSHA256Header``
    ///     header takes that header's value instead, as the SDK does.
    /// - Returns: the canonical request and the `;`-joined signed header names.
    public static func canonicalRequest(
        method: String, path: String, query: String?, headers: [(name: String, value: String)], body: [UInt8]
    ) -> (canonical: String, signedHeaders: String) {
        var values: [String: String] = [:]
        for header in headers {
            values[header.name.lowercased()] = header.value.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let signed = values.keys.filter { !$0.contains("_") }.sorted { Array($0.utf8).lexicographicallyPrecedes($1.utf8) }
        let canonicalHeaders = signed.map { "\($0):\(values[$0] ?? "")\n" }.joined()
        let signedHeaders = signed.joined(separator: ";")

        let payloadHash: String
        if body.isEmpty {
            payloadHash = emptyPayloadHash
        } else if let declared = values[contentSHA256Header.lowercased()], !declared.isEmpty {
            payloadHash = declared
        } else {
            payloadHash = hexSHA256(body)
        }
        let canonical = [
            method.uppercased(), canonicalURI(path), canonicalQuery(query), canonicalHeaders, signedHeaders, payloadHash,
        ].joined(separator: "\n")
        return (canonical, signedHeaders)
    }

    /// Builds the string to sign: `SDK-HMAC-SHA256\n<X-Sdk-Date>\n<hex sha256(canonicalRequest)>`.
    /// - Parameters:
    ///   - canonicalRequest: from ``canonicalRequest(method:path:query:headers:body:)``.
    ///   - sdkDate: the `X-Sdk-Date` value as sent.
    public static func stringToSign(canonicalRequest: String, sdkDate: String) -> String {
        "\(algorithm)\n\(sdkDate)\n\(hexSHA256(Array(canonicalRequest.utf8)))"
    }

    /// Computes the signature: lower-case hex HMAC-SHA256 of `stringToSign` keyed with the SK.
    /// - Parameters:
    ///   - stringToSign: from ``stringToSign(canonicalRequest:sdkDate:)``.
    ///   - secretKey: the secret key (SK), as UTF-8 bytes.
    public static func signature(stringToSign: String, secretKey: String) -> String {
        let key = SymmetricKey(data: Array(secretKey.utf8))
        let code = HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key)
        return hex(Array(code))
    }

    /// Compares two signatures in time that depends only on their lengths.
    /// - Returns: `true` when `a` and `b` are the same bytes.
    public static func signaturesMatch(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8)
        let right = Array(b.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }

    /// Lower-case hex SHA-256 of `bytes`: the payload hash of a body.
    public static func hexSHA256(_ bytes: [UInt8]) -> String {
        hex(Array(SHA256.hash(data: bytes)))
    }

    static func canonicalURI(_ path: String) -> String {
        let decoded = String(decoding: PercentEncoding.decode(path), as: UTF8.self)
        var uri = decoded.split(separator: "/", omittingEmptySubsequences: false)
            .map { PercentEncoding.encode(String($0)) }
            .joined(separator: "/")
        if !uri.hasSuffix("/") { uri += "/" }
        return uri
    }

    static func canonicalQuery(_ query: String?) -> String {
        guard let query, !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&").map { piece -> (key: [UInt8], value: [UInt8]) in
            let parts = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Array(String(decoding: PercentEncoding.decode(String(parts[0])), as: UTF8.self).utf8)
            let value = parts.count > 1
                ? Array(String(decoding: PercentEncoding.decode(String(parts[1])), as: UTF8.self).utf8) : []
            return (key, value)
        }
        return pairs
            .sorted { $0.key == $1.key ? $0.value.lexicographicallyPrecedes($1.value) : $0.key.lexicographicallyPrecedes($1.key) }
            .map { PercentEncoding.encode($0.key) + "=" + PercentEncoding.encode($0.value) }
            .joined(separator: "&")
    }

    static func hex(_ bytes: [UInt8]) -> String {
        LowercaseHex.string(bytes)
    }
}

extension Calendar {
    fileprivate static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        return calendar
    }()
}

import Foundation
import Testing

@testable import IMSClient

/// The SDK-HMAC-SHA256 signer against the vectors of docs/IMS-API.md, "AK/SK signing", which the
/// official SDK signer (`huaweicloudsdkcore/signer/signer.py` 3.1.219) produced.
@Suite("AK/SK signer")
struct AKSKSignerTests {
    static let accessKey = "HPUAEXAMPLEAK0000001"
    static let secretKey = "exampleSecretKey0123456789abcdefghijABCD"
    static let projectID = "0123456789abcdef0123456789abcdef"
    static let host = "ims.cn-north-4.myhuaweicloud.com"
    static let sdkDate = "20240102T030405Z"
    /// 2024-01-02T03:04:05Z.
    static let date = Date(timeIntervalSince1970: 1_704_164_645)
    static let membersBody = Array(
        #"{"images": ["d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1", "0b2a8c1e-5f7a-4a2c-9d0e-7c3b1e2f4a5b"], "project_id": "fedcba9876543210fedcba9876543210", "status": "accepted"}"#
            .utf8)

    struct Outcome {
        var canonical: String
        var canonicalHash: String
        var signedHeaders: String
        var signature: String
    }

    /// Runs the static pipeline the way a verifier does.
    static func sign(
        method: String, path: String, query: String? = nil, contentType: String, extra: [(name: String, value: String)] = [],
        body: [UInt8] = []
    ) -> Outcome {
        let headers: [(name: String, value: String)] =
            [
                (name: "Content-Type", value: contentType), (name: "Host", value: host),
                (name: "X-Project-Id", value: projectID), (name: "X-Sdk-Date", value: sdkDate),
            ] + extra
        let (canonical, signedHeaders) = AKSKSigner.canonicalRequest(
            method: method, path: path, query: query, headers: headers, body: body)
        let toSign = AKSKSigner.stringToSign(canonicalRequest: canonical, sdkDate: sdkDate)
        return Outcome(
            canonical: canonical, canonicalHash: AKSKSigner.hexSHA256(Array(canonical.utf8)), signedHeaders: signedHeaders,
            signature: AKSKSigner.signature(stringToSign: toSign, secretKey: secretKey))
    }

    static func header(_ request: UpstreamRequest, _ name: String) -> [String] {
        request.headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    @Test("vector 1: PUT /v1/cloudimages/members with a JSON body")
    func vector1() throws {
        let outcome = Self.sign(
            method: "PUT", path: "/v1/cloudimages/members", contentType: "application/json;charset=UTF-8",
            body: Self.membersBody)
        #expect(AKSKSigner.hexSHA256(Self.membersBody) == "76f91ed370f6def217d9b6406f58cab2774e3b8e9ee86d5b9b99e21058fedfd5")
        #expect(outcome.canonical.hasSuffix("\n76f91ed370f6def217d9b6406f58cab2774e3b8e9ee86d5b9b99e21058fedfd5"))
        #expect(outcome.canonicalHash == "dc4219fb7b5e088be22da0ad8bbf4b37e6a7ffd448a0edc66f11c60454462369")
        #expect(outcome.signedHeaders == "content-type;host;x-project-id;x-sdk-date")
        #expect(outcome.signature == "5026a61c940768e98c111c8b5396e99ec2baaaee3a2b79d78de6330c461af793")
        #expect(
            outcome.canonical == """
                PUT
                /v1/cloudimages/members/

                content-type:application/json;charset=UTF-8
                host:ims.cn-north-4.myhuaweicloud.com
                x-project-id:0123456789abcdef0123456789abcdef
                x-sdk-date:20240102T030405Z

                content-type;host;x-project-id;x-sdk-date
                76f91ed370f6def217d9b6406f58cab2774e3b8e9ee86d5b9b99e21058fedfd5
                """)
    }

    @Test("vector 1 through sign(_:): the Authorization value is the SDK's, byte for byte")
    func vector1Signed() throws {
        var request = UpstreamRequest(
            method: "PUT", url: "https://\(Self.host)/v1/cloudimages/members",
            headers: [(name: "Content-Type", value: "application/json;charset=UTF-8")], body: Self.membersBody)
        AKSKSigner(accessKey: Self.accessKey, secretKey: Self.secretKey)
            .sign(&request, projectID: Self.projectID, securityToken: nil, date: Self.date)
        #expect(Self.header(request, "X-Sdk-Date") == [Self.sdkDate])
        #expect(Self.header(request, "Host") == [Self.host])
        #expect(Self.header(request, "X-Project-Id") == [Self.projectID])
        #expect(Self.header(request, "X-Security-Token") == [])
        #expect(
            Self.header(request, "Authorization") == [
                "SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK0000001, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=5026a61c940768e98c111c8b5396e99ec2baaaee3a2b79d78de6330c461af793"
            ])
        #expect(request.url == "https://\(Self.host)/v1/cloudimages/members")
    }

    @Test("vector 2: GET ShowJob without a body")
    func vector2() {
        let outcome = Self.sign(
            method: "GET", path: "/v1/0123456789abcdef0123456789abcdef/jobs/ff8080817d1b1a2b017d2c3d4e5f0001",
            contentType: "application/json")
        #expect(outcome.canonicalHash == "8c5c1806b03fba0898782d89dbb8456119d73502cfc2446acf221d32144141c9")
        #expect(outcome.signedHeaders == "content-type;host;x-project-id;x-sdk-date")
        #expect(outcome.signature == "79ba35b87ce217249ebaeb0ad36cbe0854ce1619f50882d18b644989d79a4959")
    }

    @Test(
        "vector 3: the query is decoded, sorted by key then value and encoded again",
        arguments: ["marker=a%20b%2Fc&limit=10", "limit=10&marker=a%20b%2fc", "marker=a b/c&limit=10"])
    func vector3(query: String) {
        let outcome = Self.sign(
            method: "GET",
            path: "/v1/0123456789abcdef0123456789abcdef/cloudimages/d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1/members",
            query: query, contentType: "application/json")
        #expect(outcome.canonical.split(separator: "\n", omittingEmptySubsequences: false)[2] == "limit=10&marker=a%20b%2Fc")
        #expect(outcome.canonicalHash == "3cbca0f8567e30e343f682f873fe85eef397f73a9b9fae11e44ca3aa63d9a825")
        #expect(outcome.signature == "503d498eb5a5258e45873434584c77a58f5c7e025081903008a81339be7fe8c0")
    }

    @Test("vector 3 through sign(_:): the query in the URL is signed and the URL is sent unchanged")
    func vector3Signed() {
        let url =
            "https://\(Self.host)/v1/0123456789abcdef0123456789abcdef/cloudimages/d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1/members?marker=a%20b%2Fc&limit=10"
        var request = UpstreamRequest(method: "GET", url: url, headers: [(name: "Content-Type", value: "application/json")])
        AKSKSigner(accessKey: Self.accessKey, secretKey: Self.secretKey)
            .sign(&request, projectID: Self.projectID, securityToken: nil, date: Self.date)
        let authorization = Self.header(request, "Authorization").first.flatMap(AuthorizationHeader.parse)
        #expect(authorization?.signature == "503d498eb5a5258e45873434584c77a58f5c7e025081903008a81339be7fe8c0")
        #expect(request.url == url)
    }

    @Test("vector 4: temporary credentials sign X-Security-Token too")
    func vector4() {
        let outcome = Self.sign(
            method: "PUT", path: "/v1/cloudimages/members", contentType: "application/json;charset=UTF-8",
            extra: [(name: "X-Security-Token", value: "EXAMPLE-SECURITY-TOKEN")], body: Self.membersBody)
        #expect(outcome.signedHeaders == "content-type;host;x-project-id;x-sdk-date;x-security-token")
        #expect(outcome.canonicalHash == "2e6f76624b9c28a44e8f0118faa233781f6d75ba8da9e82f9b053e7017a22d76")
        #expect(outcome.signature == "678322bf4e228fe92f5bab74236f41cf67e885500fea5e397cf5b46be9a3985e")

        var request = UpstreamRequest(
            method: "PUT", url: "https://\(Self.host)/v1/cloudimages/members",
            headers: [(name: "Content-Type", value: "application/json;charset=UTF-8")], body: Self.membersBody)
        AKSKSigner(accessKey: Self.accessKey, secretKey: Self.secretKey)
            .sign(&request, projectID: Self.projectID, securityToken: "EXAMPLE-SECURITY-TOKEN", date: Self.date)
        #expect(Self.header(request, "X-Security-Token") == ["EXAMPLE-SECURITY-TOKEN"])
        #expect(
            Self.header(request, "Authorization").first.flatMap(AuthorizationHeader.parse)?.signature
                == "678322bf4e228fe92f5bab74236f41cf67e885500fea5e397cf5b46be9a3985e")
    }

    /// Produced with the SDK 3.1.219 signer: resource_path `/v1/jobs/a%20b%2Bc/%E9%95%9C%E5%83%8F`,
    /// query_params `[("tag","z"),("tag","a"),("q","1+1=2"),("empty","")]`, extra headers
    /// `X_Custom: skip` and `X-Extra: "  padded  "`.
    @Test("SDK vector: encoded and non-ASCII path segments, repeated keys, '+', '_' headers, padded values")
    func sdkEdgeVector() {
        let outcome = Self.sign(
            method: "get", path: "/v1/jobs/a%20b%2Bc/%E9%95%9C%E5%83%8F", query: "tag=z&tag=a&q=1%2B1%3D2&empty=",
            contentType: "application/json",
            extra: [(name: "X_Custom", value: "skip"), (name: "X-Extra", value: "  padded  ")])
        let lines = outcome.canonical.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "GET")
        #expect(lines[1] == "/v1/jobs/a%20b%2Bc/%E9%95%9C%E5%83%8F/")
        #expect(lines[2] == "empty=&q=1%2B1%3D2&tag=a&tag=z")
        #expect(outcome.signedHeaders == "content-type;host;x-extra;x-project-id;x-sdk-date")
        #expect(outcome.canonicalHash == "59596f8b8e9199c29aee3ef54e209c106a8127b0abe95ae2f98d03bc7ba1947e")
        #expect(outcome.signature == "a21b81623615885aec0eb6321289569e2e7888c7bcaa19f668d35e2628473bb5")
        // Unencoded non-ASCII, or a key without "=", canonicalise the same way.
        #expect(AKSKSigner.canonicalURI("/v1/jobs/a b+c/镜像") == "/v1/jobs/a%20b%2Bc/%E9%95%9C%E5%83%8F/")
        #expect(AKSKSigner.canonicalQuery("tag=z&&tag=a&q=1%2B1%3D2&empty") == "empty=&q=1%2B1%3D2&tag=a&tag=z")
        #expect(AKSKSigner.canonicalURI("/") == "/")
        #expect(AKSKSigner.canonicalURI("") == "/")
        #expect(AKSKSigner.canonicalURI("/a/%zz") == "/a/%25zz/")
        // Like the SDK, the whole path is decoded before it is split: an escaped "/" separates segments.
        #expect(AKSKSigner.canonicalURI("/v1/jobs/a%2Fb%3Fc/") == "/v1/jobs/a/b%3Fc/")
        #expect(AKSKSigner.canonicalQuery(nil) == "")
    }

    @Test("an empty body hashes to e3b0c442...b855")
    func emptyBody() {
        #expect(AKSKSigner.hexSHA256([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(AKSKSigner.emptyPayloadHash == AKSKSigner.hexSHA256([]))
        let outcome = Self.sign(method: "GET", path: "/v1/cloudimages/job/x", contentType: "application/json")
        #expect(outcome.canonical.hasSuffix("\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
    }

    @Test("the SDK's X-Sdk-Content-Sha256 replaces the payload hash of a non-empty body")
    func declaredPayloadHash() {
        let outcome = Self.sign(
            method: "PUT", path: "/upload", contentType: "application/octet-stream",
            extra: [(name: "X-Sdk-Content-Sha256", value: "UNSIGNED-PAYLOAD")], body: [1, 2, 3])
        #expect(outcome.canonical.hasSuffix("\nUNSIGNED-PAYLOAD"))
    }

    @Test("signing again replaces X-Sdk-Date, Host, X-Project-Id, X-Security-Token and Authorization")
    func resign() {
        let signer = AKSKSigner(accessKey: Self.accessKey, secretKey: Self.secretKey)
        var request = UpstreamRequest(
            method: "PUT", url: "https://\(Self.host)/v1/cloudimages/members",
            headers: [(name: "Content-Type", value: "application/json;charset=UTF-8")], body: Self.membersBody)
        signer.sign(&request, projectID: "ffffffffffffffffffffffffffffffff", securityToken: "OLD-TOKEN", date: Date())
        // A replayed request may carry the headers in another case.
        request.headers.append((name: "x-sdk-date", value: "19990101T000000Z"))
        request.headers.append((name: "HOST", value: "elsewhere.example"))
        signer.sign(&request, projectID: Self.projectID, securityToken: nil, date: Self.date)

        for name in ["X-Sdk-Date", "Host", "X-Project-Id", "Authorization", "Content-Type"] {
            #expect(Self.header(request, name).count == 1, "\(name)")
        }
        #expect(Self.header(request, "X-Security-Token").isEmpty)
        #expect(Self.header(request, "X-Sdk-Date") == [Self.sdkDate])
        #expect(Self.header(request, "X-Project-Id") == [Self.projectID])
        #expect(
            Self.header(request, "Authorization").first.flatMap(AuthorizationHeader.parse)?.signature
                == "5026a61c940768e98c111c8b5396e99ec2baaaee3a2b79d78de6330c461af793")
    }

    @Test(
        "Host comes from the URL, with the port when the URL names one",
        arguments: [
            ("http://127.0.0.1:9000/v1/cloudimages/members", "127.0.0.1:9000"),
            ("https://ims.cn-north-4.myhuaweicloud.com/v1/cloudimages/members", "ims.cn-north-4.myhuaweicloud.com"),
            ("https://ims.example:8443?x=1", "ims.example:8443"),
            ("http://user:pw@[::1]:9000/", "[::1]:9000"),
        ])
    func host(url: String, expected: String) {
        var request = UpstreamRequest(method: "GET", url: url)
        AKSKSigner(accessKey: Self.accessKey, secretKey: Self.secretKey)
            .sign(&request, projectID: nil, securityToken: nil, date: Self.date)
        #expect(Self.header(request, "Host") == [expected])
        #expect(Self.header(request, "X-Project-Id").isEmpty)
        let authorization = Self.header(request, "Authorization").first.flatMap(AuthorizationHeader.parse)
        #expect(authorization?.signedHeaders == ["host", "x-sdk-date"])
    }

    @Test("a URL without a host is left unsigned")
    func noHost() {
        var request = UpstreamRequest(method: "GET", url: "/v1/cloudimages/members")
        AKSKSigner(accessKey: Self.accessKey, secretKey: Self.secretKey)
            .sign(&request, projectID: Self.projectID, securityToken: nil, date: Self.date)
        #expect(request.headers.isEmpty)
    }

    @Test("Authorization: parse and value round trip; other schemes and incomplete values are refused")
    func authorizationRoundTrip() throws {
        let value =
            "SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK0000001, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=5026a61c940768e98c111c8b5396e99ec2baaaee3a2b79d78de6330c461af793"
        let parsed = try #require(AuthorizationHeader.parse(value))
        #expect(parsed.accessKey == Self.accessKey)
        #expect(parsed.signedHeaders == ["content-type", "host", "x-project-id", "x-sdk-date"])
        #expect(parsed.signature == "5026a61c940768e98c111c8b5396e99ec2baaaee3a2b79d78de6330c461af793")
        #expect(parsed.value == value)
        #expect(AuthorizationHeader.parse(parsed.value) == parsed)
        #expect(AuthorizationHeader.parse("SDK-HMAC-SHA256 Signature=ab,Access=AK,SignedHeaders=host")?.accessKey == "AK")

        for bad in [
            "", "Bearer abc", "SDK-HMAC-SM3 Access=AK, SignedHeaders=host, Signature=ab",
            "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host", "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=",
            "SDK-HMAC-SHA256 Access=AK, Access=BK, SignedHeaders=host, Signature=ab",
            "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=ab, Extra",
        ] {
            #expect(AuthorizationHeader.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("X-Sdk-Date: written in UTC, read back, malformed values refused")
    func sdkDates() {
        #expect(AKSKSigner.sdkDate(Self.date) == Self.sdkDate)
        #expect(AKSKSigner.parseSDKDate(Self.sdkDate) == Self.date)
        for bad in ["", "20240102T030405", "2024-01-02T03:04:05Z", "20241302T030405Z", "20240230T030405Z", "2024010xT030405Z"] {
            #expect(AKSKSigner.parseSDKDate(bad) == nil, "\(bad)")
        }
    }

    @Test("signatures compare equal only when identical")
    func constantTimeCompare() {
        #expect(AKSKSigner.signaturesMatch("abc", "abc"))
        #expect(!AKSKSigner.signaturesMatch("abc", "abd"))
        #expect(!AKSKSigner.signaturesMatch("abc", "abcd"))
    }

    @Test("the secret key never shows in description, debugDescription or dump")
    func secretHidden() {
        let signer = AKSKSigner(accessKey: Self.accessKey, secretKey: Self.secretKey)
        var dumped = ""
        dump(signer, to: &dumped)
        for text in ["\(signer)", String(describing: signer), String(reflecting: signer), dumped] {
            #expect(!text.contains(Self.secretKey))
            #expect(text.contains(Self.accessKey))
        }
    }
}

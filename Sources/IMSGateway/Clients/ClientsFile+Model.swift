import Foundation

extension ClientsFile {
    /// A member as decoded: missing, present with a value, or present with a value of the wrong type.
    ///
    /// Decoding never stops at the first bad member, so that every problem of a file is reported at once.
    enum Field<Value> {
        case absent
        case invalid
        case value(Value)
    }

    /// Any member name, so that the names a mapping gives can be compared with the ones it may give.
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) {
            self.stringValue = String(intValue)
            self.intValue = intValue
        }
    }

    /// A mapping read member by member: which members it has that it may not, and each allowed member.
    struct Members {
        let container: KeyedDecodingContainer<AnyKey>?
        let unknownKeys: [String]

        init(_ decoder: any Decoder, allowed: Set<String>) {
            container = try? decoder.container(keyedBy: AnyKey.self)
            unknownKeys = (container?.allKeys.map(\.stringValue) ?? []).filter { !allowed.contains($0) }
        }

        func field<Value: Decodable>(_ key: String, as type: Value.Type = Value.self) -> Field<Value> {
            guard let container, container.contains(AnyKey(key)) else { return .absent }
            guard let value = try? container.decode(Value.self, forKey: AnyKey(key)) else { return .invalid }
            return .value(value)
        }
    }

    /// The whole file: `{clients: [...]}`.
    struct Document: Decodable {
        var notAMapping: Bool
        var unknownKeys: [String]
        var clients: Field<[Client]>

        init(from decoder: any Decoder) {
            let members = Members(decoder, allowed: ["clients"])
            notAMapping = members.container == nil
            unknownKeys = members.unknownKeys
            clients = members.field("clients")
        }
    }

    /// One element of `clients`.
    struct Client: Decodable {
        var notAMapping: Bool
        var unknownKeys: [String]
        var name: Field<String>
        var keySHA256: Field<[String]>
        var projects: Field<[String]>
        var rateLimit: Field<RateLimit>
        var weight: Field<Double>
        var maxPendingRequests: Field<Int>
        var maxStoredRequests: Field<Int>

        init(from decoder: any Decoder) {
            let members = Members(
                decoder, allowed: [
                    "name", "key_sha256", "projects", "rate_limit", "weight", "max_pending_requests", "max_stored_requests",
                ])
            notAMapping = members.container == nil
            unknownKeys = members.unknownKeys
            name = members.field("name")
            keySHA256 = members.field("key_sha256")
            projects = members.field("projects")
            rateLimit = members.field("rate_limit")
            weight = members.field("weight")
            maxPendingRequests = members.field("max_pending_requests")
            maxStoredRequests = members.field("max_stored_requests")
        }
    }

    /// A client's `rate_limit`: `{rate: <requests per second>, burst: <requests>}`.
    struct RateLimit: Decodable {
        var notAMapping: Bool
        var unknownKeys: [String]
        var rate: Field<Double>
        var burst: Field<Int>

        init(from decoder: any Decoder) {
            let members = Members(decoder, allowed: ["rate", "burst"])
            notAMapping = members.container == nil
            unknownKeys = members.unknownKeys
            rate = members.field("rate")
            burst = members.field("burst")
        }
    }
}

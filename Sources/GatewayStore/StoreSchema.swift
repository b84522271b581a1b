import Foundation

/// The schema version rule shared by both engines (docs/ARCHITECTURE.md, "State and recovery"):
/// SQLite and PostgreSQL stores carry the same tables at the same numbered schema versions,
/// each engine with its own migration steps, and both record in `store_meta` the schema
/// version and the oldest gateway version that can work on them.
public enum StoreSchema {
    /// The newest schema version this build knows (and migrates to).
    public static let version = 3
    /// The oldest gateway version that can work on a store at ``version``; written to
    /// `store_meta.min_gateway_version` by the migrations. 0.6.0 since version 3: an older
    /// gateway would write requests without a lease, which replicas would take over at once.
    public static let minimumGatewayVersion = "0.6.0"

    /// Whether a gateway at `gatewayVersion` can work on a store at `storedSchemaVersion`
    /// whose `min_gateway_version` is `minimumGatewayVersion`.
    /// - Parameter store: the store (file path or redacted URL), named in the error.
    /// - Throws: ``StoreError`` `.incompatible` (naming the store and both versions) when
    ///   `storedSchemaVersion` is above ``version``, or `minimumGatewayVersion` is above
    ///   `gatewayVersion` (see ``isVersion(_:olderThan:)``).
    public static func checkCompatible(
        store: String, storedSchemaVersion: Int, minimumGatewayVersion: String, gatewayVersion: String
    ) throws(StoreError) {
        if storedSchemaVersion > version {
            throw StoreError(
                .incompatible,
                "the store \(store) is at schema version \(storedSchemaVersion), newer than the \(version) "
                    + "this gateway \(gatewayVersion) knows (it needs gateway \(minimumGatewayVersion) or newer); "
                    + "run a newer gateway or restore a backup")
        }
        if isVersion(gatewayVersion, olderThan: minimumGatewayVersion) {
            throw StoreError(
                .incompatible,
                "the store \(store) needs gateway \(minimumGatewayVersion) or newer, this one is \(gatewayVersion) "
                    + "(schema version \(storedSchemaVersion)); run a newer gateway or restore a backup")
        }
    }

    /// Whether dotted version `version` comes before `other`, comparing the numbers one by
    /// one (`0.10.0` is after `0.9.1`; a missing number is 0; a suffix after `-` or `+` is
    /// ignored; each part counts by its leading digits). A version whose first part has no
    /// digit (a development build such as `dev`) is older than nothing.
    public static func isVersion(_ version: String, olderThan other: String) -> Bool {
        guard let left = versionNumbers(version) else { return false }
        guard let right = versionNumbers(other) else { return true }
        for index in 0..<max(left.count, right.count) {
            let a = index < left.count ? left[index] : 0
            let b = index < right.count ? right[index] : 0
            if a != b { return a < b }
        }
        return false
    }

    /// The numbers of a dotted version, nil when its first part has no leading digit.
    private static func versionNumbers(_ version: String) -> [Int]? {
        let core = version.trimmingCharacters(in: .whitespaces).prefix { $0 != "-" && $0 != "+" }
        let numbers = core.split(separator: ".", omittingEmptySubsequences: false).map { part in
            Int(part.prefix { $0.isASCII && $0.isNumber }.prefix(9))
        }
        guard let first = numbers.first, first != nil else { return nil }
        return numbers.map { $0 ?? 0 }
    }
}

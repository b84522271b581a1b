import Foundation
import IMSClient
import JSONText

/// Validates an accept/reject body and splits its images into batches, before any upstream
/// call. Every problem is reported, each naming its field; nothing invalid reaches IMS or a
/// URL path.
///
/// Body: `{"project_id": "<32 hex>", "images": ["<uuid>", ...], "vault_id": "<uuid>"}`, where
/// `vault_id` is allowed on accept only, unknown fields are refused (so that typos are caught)
/// and so are fields given twice (parsers disagree on which one wins).
public struct BatchPlanner: Sendable {
    /// Most images in one request.
    public var maxImagesPerRequest: Int
    /// Most images in one batch (one IMS job).
    public var maxImagesPerJob: Int

    /// Creates a planner.
    public init(maxImagesPerRequest: Int, maxImagesPerJob: Int) {
        self.maxImagesPerRequest = maxImagesPerRequest
        self.maxImagesPerJob = max(1, maxImagesPerJob)
    }

    private static let knownFields: Set<String> = ["project_id", "images", "vault_id"]

    /// Parses and validates `body`.
    /// - Returns: the plan, or every field error found.
    public func plan(body: [UInt8], memberStatus: MemberStatus) -> Result<MemberStatusPlan, FieldErrors> {
        // JSONReader accepts and refuses what JSONSerialization does, at a fraction of its cost.
        guard let parsed = JSONReader.value(body) else {
            return .failure(FieldErrors([FieldError(field: "body", detail: "is not valid JSON")]))
        }
        guard let object = parsed as? [String: Any] else {
            return .failure(FieldErrors([FieldError(field: "body", detail: "must be a JSON object")]))
        }
        var errors: [FieldError] = []
        var seen: Set<String> = []
        for name in TopLevelKeys.names(in: body) ?? [] where !seen.insert(name).inserted {
            errors.append(FieldError(field: Self.printable(name), detail: "appears more than once"))
        }
        for key in object.keys.sorted() where !Self.knownFields.contains(key) {
            errors.append(FieldError(field: Self.printable(key), detail: "is not a known field (known: project_id, images, vault_id)"))
        }

        var projectID = ""
        switch object["project_id"] {
        case nil:
            errors.append(FieldError(field: "project_id", detail: "is required"))
        case let value as String:
            let normalized = value.trimmingWhitespace(andNewlines: true).lowercased()
            if Self.isProjectID(normalized) {
                projectID = normalized
            } else {
                errors.append(FieldError(field: "project_id", detail: "must be 32 hexadecimal characters"))
            }
        default:
            errors.append(FieldError(field: "project_id", detail: "must be a string"))
        }

        var vaultID: String?
        if let value = object["vault_id"], !(value is NSNull) {
            if memberStatus != .accepted {
                errors.append(FieldError(field: "vault_id", detail: "is allowed only when accepting images"))
            } else if let text = value as? String {
                let normalized = text.trimmingWhitespace(andNewlines: true).lowercased()
                if Self.isUUID(normalized) {
                    vaultID = normalized
                } else {
                    errors.append(FieldError(field: "vault_id", detail: "must be a UUID (8-4-4-4-12 hexadecimal)"))
                }
            } else {
                errors.append(FieldError(field: "vault_id", detail: "must be a string"))
            }
        }

        var images: [String] = []
        var warnings: [String] = []
        switch object["images"] {
        case nil:
            errors.append(FieldError(field: "images", detail: "is required"))
        case let list as [Any]:
            if list.isEmpty {
                errors.append(FieldError(field: "images", detail: "must name at least one image"))
            } else if list.count > maxImagesPerRequest {
                errors.append(FieldError(
                    field: "images", detail: "names \(list.count) images; at most \(maxImagesPerRequest) are allowed per request"))
            } else {
                var firstIndex: [String: Int] = [:]
                for (index, item) in list.enumerated() {
                    guard let text = item as? String else {
                        errors.append(FieldError(field: "images[\(index)]", detail: "must be a string"))
                        continue
                    }
                    let normalized = text.trimmingWhitespace(andNewlines: true).lowercased()
                    guard Self.isUUID(normalized) else {
                        errors.append(FieldError(field: "images[\(index)]", detail: "must be an image ID (UUID, 8-4-4-4-12 hexadecimal)"))
                        continue
                    }
                    if let first = firstIndex[normalized] {
                        warnings.append("images[\(index)] repeats images[\(first)] (\(normalized)); the duplicate was removed")
                    } else {
                        firstIndex[normalized] = index
                        images.append(normalized)
                    }
                }
            }
        default:
            errors.append(FieldError(field: "images", detail: "must be an array of image IDs"))
        }

        guard errors.isEmpty else { return .failure(FieldErrors(errors)) }
        let batches = stride(from: 0, to: images.count, by: maxImagesPerJob).map {
            Array(images[$0..<min($0 + maxImagesPerJob, images.count)])
        }
        return .success(MemberStatusPlan(
            projectID: projectID, memberStatus: memberStatus, vaultID: vaultID, images: images,
            batches: batches, warnings: warnings))
    }

    /// 32 lower-case hexadecimal characters.
    static func isProjectID(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy(isLowerHex)
    }

    /// A lower-case 8-4-4-4-12 hexadecimal UUID.
    static func isUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else if !isLowerHex(byte) {
                return false
            }
        }
        return true
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    /// A field name safe to echo: printable ASCII, at most 64 characters.
    private static func printable(_ key: String) -> String {
        let cleaned = String(key.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
        return cleaned.count > 64 ? String(cleaned.prefix(64)) + "..." : cleaned
    }
}

/// The field errors of an invalid body.
public struct FieldErrors: Error, Sendable, Equatable {
    /// Every invalid field, in the order found.
    public var errors: [FieldError]

    /// Wraps a list.
    public init(_ errors: [FieldError]) {
        self.errors = errors
    }
}

import Foundation

/// The `wait` preference of RFC 7240 (`Prefer: wait=<seconds>`), clamped to the gateway's
/// maximum. Other preferences are ignored, and of a `wait` given more than once only the first
/// counts, as RFC 7240 section 2 asks.
struct WaitPreference: Equatable {
    /// The wait the gateway applies, in seconds.
    let seconds: Int
    /// Whether the caller asked for it (and so `Preference-Applied` is sent).
    let requested: Bool

    init(header: String?, defaultSeconds: Int, maxSeconds: Int) {
        var asked: Int?
        for preference in (header ?? "").split(separator: ",") {
            let token = preference.split(separator: ";").first ?? ""
            let parts = token.split(separator: "=", maxSplits: 1).map { $0.trimmingWhitespace() }
            guard parts.count == 2, parts[0].lowercased() == "wait" else { continue }
            let value = parts[1].trimmingCharacters(in: ["\""])
            // RFC 7240: delta-seconds, digits only; a value too large for Int means "as long as allowed".
            if !value.isEmpty, value.utf8.allSatisfy({ (48...57).contains($0) }) { asked = Int(value) ?? Int.max }
            break
        }
        seconds = max(1, min(asked ?? defaultSeconds, maxSeconds))
        requested = asked != nil
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> String {
        String(self).trimmingCharacters(in: .whitespaces)
    }
}

/// The `wait` preference of RFC 7240 (`Prefer: wait=<seconds>`), clamped to the gateway's
/// maximum, and whether the caller asked for `respond-async` (docs/ARCHITECTURE.md, "Public
/// API"). Parsed by ``PreferHeader``: of a `wait` given more than once only the first counts,
/// as RFC 7240 section 2 asks, and a first `wait` whose value is not delta-seconds is no wait.
struct WaitPreference: Equatable {
    /// The wait the gateway applies, in seconds.
    let seconds: Int
    /// Whether the caller asked for it (and so `Preference-Applied` is sent).
    let requested: Bool
    /// Whether the caller asked for `respond-async`: a 202 instead of a 504 when the wait
    /// (none without `wait`) ends before the request.
    let respondAsync: Bool

    init(_ preferences: PreferHeader, defaultSeconds: Int, maxSeconds: Int) {
        var asked: Int?
        // RFC 7240: delta-seconds, digits only; a value too large for Int means "as long as allowed".
        if let value = preferences.value("wait"), !value.isEmpty, value.utf8.allSatisfy({ (48...57).contains($0) }) {
            asked = Int(value) ?? Int.max
        }
        seconds = max(1, min(asked ?? defaultSeconds, maxSeconds))
        requested = asked != nil
        respondAsync = preferences.has("respond-async")
    }

    init(header: String?, defaultSeconds: Int, maxSeconds: Int) {
        self.init(PreferHeader(header), defaultSeconds: defaultSeconds, maxSeconds: maxSeconds)
    }
}

import Foundation

/// The simulated API gateway's request quota for the whole account: at most ``calls`` IMS calls
/// (BatchUpdateMembers, ShowJob, ShowJobProgress; not IAM) admitted in any sliding window of
/// ``windowSeconds``; the calls beyond it are answered 429 APIGW.0308 (docs/IMS-API.md,
/// "Throttling"). With ``calls`` `nil` nothing is refused and the window only measures
/// (`max_calls_in_window` in `/_sim/stats`).
///
/// Text form (the `--quota` flag): `CALLS/SECONDS`, e.g. `100/10`. JSON form:
/// `{"calls": 100, "window_seconds": 10}` (`calls` absent or null: measure only).
public struct Quota: Sendable, Equatable {
    /// Calls admitted per window; `nil` for no limit.
    public var calls: Int?
    /// The window's length, in seconds.
    public var windowSeconds: Int

    /// Creates a quota.
    /// - Parameters:
    ///   - calls: calls admitted per window, at least 1; `nil` to measure only.
    ///   - windowSeconds: window length in seconds, at least 1.
    public init(calls: Int?, windowSeconds: Int) {
        self.calls = calls
        self.windowSeconds = windowSeconds
    }

    /// No limit, measured over one minute (the API gateway's usual window).
    public static let unlimited = Quota(calls: nil, windowSeconds: 60)

    /// Parses `CALLS/SECONDS`, e.g. `100/10`.
    /// - Throws: ``SimulatorSettingError`` when either part is not a positive integer.
    public init(parsing text: String) throws(SimulatorSettingError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let calls = Int(parts[0]), let window = Int(parts[1]) else {
            throw SimulatorSettingError("quota '\(text)': expected CALLS/SECONDS, e.g. 100/10")
        }
        self.init(calls: calls, windowSeconds: window)
        try validate()
    }

    /// Checks that the numbers are positive.
    /// - Throws: ``SimulatorSettingError`` saying which one is not.
    public func validate() throws(SimulatorSettingError) {
        if let calls, calls < 1 { throw SimulatorSettingError("quota: calls must be at least 1") }
        guard windowSeconds >= 1 else { throw SimulatorSettingError("quota: window_seconds must be at least 1") }
    }

    /// The API gateway's words for the window: `1 minute`, `5 minute`, `10 second`.
    var windowText: String {
        windowSeconds % 60 == 0 ? "\(windowSeconds / 60) minute" : "\(windowSeconds) second"
    }
}

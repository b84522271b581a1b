import Foundation
import Synchronization

/// Keeps a refused access key from being sent again and again: the API gateway locks an AK
/// for 5 minutes after more than 5 consecutive signature failures (docs/IMS-API.md, "Error bodies",
/// APIGW.0301).
///
/// After a refusal the key is not sent for a pause that doubles with each consecutive refusal
/// (`initialSeconds`, then 2x, up to `maxSeconds`). When the pause is over, exactly one request
/// is let through as a trial; every other caller is refused until the trial is answered. An
/// accepted request clears everything; a trial with no answer at all frees the next trial after
/// `trialSeconds`.
final class AuthenticationBackoff: Sendable {
    private struct State {
        var accessKey: String
        var error: UpstreamError
        var consecutive: Int
        var until: Date
        var trialStarted: Date?
    }

    private let initialSeconds: TimeInterval
    private let maxSeconds: TimeInterval
    private let trialSeconds: TimeInterval
    private let state = Mutex<State?>(nil)

    /// - Parameters:
    ///   - initialSeconds: the pause after a first refusal.
    ///   - maxSeconds: the longest pause.
    ///   - trialSeconds: how long an unanswered trial blocks the next one.
    init(initialSeconds: TimeInterval, maxSeconds: TimeInterval = 900, trialSeconds: TimeInterval = 30) {
        self.initialSeconds = initialSeconds
        self.maxSeconds = max(initialSeconds, maxSeconds)
        self.trialSeconds = trialSeconds
    }

    /// Records that IMS refused `accessKey` at `now`.
    func refused(_ accessKey: String, error: UpstreamError, now: Date) {
        state.withLock { state in
            let consecutive = state?.accessKey == accessKey ? (state?.consecutive ?? 0) + 1 : 1
            let pause = min(maxSeconds, initialSeconds * pow(2, Double(consecutive - 1)))
            state = State(
                accessKey: accessKey, error: error, consecutive: consecutive, until: now.addingTimeInterval(pause),
                trialStarted: nil)
        }
    }

    /// Records that IMS accepted `accessKey`: no pause any more.
    func accepted(_ accessKey: String) {
        state.withLock { state in
            if state?.accessKey == accessKey { state = nil }
        }
    }

    /// Lets `accessKey` be sent, or throws the remembered refusal: during the pause, and after
    /// it while another caller's trial is unanswered.
    func check(_ accessKey: String, now: Date) throws(IMSClientError) {
        let refusal = state.withLock { state -> UpstreamError? in
            guard let current = state, current.accessKey == accessKey else { return nil }
            if now < current.until { return current.error }
            if let started = current.trialStarted, now < started.addingTimeInterval(trialSeconds) { return current.error }
            state?.trialStarted = now
            return nil
        }
        if let refusal { throw IMSClientError.authentication(refusal) }
    }
}

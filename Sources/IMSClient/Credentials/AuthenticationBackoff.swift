import Foundation
import Synchronization

/// Remembers that IMS refused an access key, so that the same key is not sent again for
/// `seconds`: the API gateway locks an AK for 5 minutes after more than 5 consecutive
/// signature failures (IMS-REFERENCE.md section 3, APIGW.0301).
final class AuthenticationBackoff: Sendable {
    private struct Refusal {
        var accessKey: String
        var until: Date
        var error: UpstreamError
    }

    private let seconds: TimeInterval
    private let refusal = Mutex<Refusal?>(nil)

    /// - Parameter seconds: how long a refused key is not sent again.
    init(seconds: TimeInterval) {
        self.seconds = seconds
    }

    /// Records that IMS refused `accessKey` at `now`.
    func refused(_ accessKey: String, error: UpstreamError, now: Date) {
        refusal.withLock { $0 = Refusal(accessKey: accessKey, until: now.addingTimeInterval(seconds), error: error) }
    }

    /// Throws the remembered refusal when `accessKey` was refused less than `seconds` ago.
    func check(_ accessKey: String, now: Date) throws(IMSClientError) {
        let current = refusal.withLock { $0 }
        if let current, current.accessKey == accessKey, now < current.until {
            throw IMSClientError.authentication(current.error)
        }
    }
}

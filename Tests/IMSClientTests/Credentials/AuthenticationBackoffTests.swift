import Foundation
import Testing

@testable import IMSClient

@Suite("AuthenticationBackoff")
struct AuthenticationBackoffTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    static let refusal = UpstreamError(httpStatus: 401, code: "APIGW.0301", message: "verify aksk signature fail")

    static func allowed(_ backoff: AuthenticationBackoff, _ key: String = "AK", at seconds: TimeInterval) -> Bool {
        do {
            try backoff.check(key, now: start.addingTimeInterval(seconds))
            return true
        } catch {
            return false
        }
    }

    @Test func aRefusedKeyPausesThenLetsExactlyOneTrialThrough() {
        let backoff = AuthenticationBackoff(initialSeconds: 60, maxSeconds: 900, trialSeconds: 30)
        #expect(Self.allowed(backoff, at: 0))
        backoff.refused("AK", error: Self.refusal, now: Self.start)
        #expect(!Self.allowed(backoff, at: 59))
        #expect(Self.allowed(backoff, at: 60))  // the trial
        #expect((0..<50).allSatisfy { _ in !Self.allowed(backoff, at: 61) })  // everyone else waits
        #expect(Self.allowed(backoff, "OTHER", at: 61))  // another key is not affected
        #expect(Self.allowed(backoff, at: 91))  // an unanswered trial frees the next after 30 s
    }

    @Test func consecutiveRefusalsDoubleThePauseUpToTheMaximum() {
        let backoff = AuthenticationBackoff(initialSeconds: 60, maxSeconds: 200, trialSeconds: 30)
        backoff.refused("AK", error: Self.refusal, now: Self.start)
        backoff.refused("AK", error: Self.refusal, now: Self.start)
        #expect(!Self.allowed(backoff, at: 119))
        #expect(Self.allowed(backoff, at: 120))
        backoff.refused("AK", error: Self.refusal, now: Self.start)
        backoff.refused("AK", error: Self.refusal, now: Self.start)
        #expect(!Self.allowed(backoff, at: 199))
        #expect(Self.allowed(backoff, at: 200))
    }

    @Test func anAcceptedRequestClearsThePause() {
        let backoff = AuthenticationBackoff(initialSeconds: 60)
        backoff.refused("AK", error: Self.refusal, now: Self.start)
        backoff.accepted("AK")
        #expect(Self.allowed(backoff, at: 1))
        #expect(Self.allowed(backoff, at: 2))
    }
}

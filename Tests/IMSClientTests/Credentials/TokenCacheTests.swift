import Foundation
import Synchronization
import Testing

@testable import IMSClient

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let date: Mutex<Date>

    init(_ start: Date) {
        date = Mutex(start)
    }

    func now() -> Date {
        date.withLock { $0 }
    }

    /// Moves the clock forward by `seconds`.
    func advance(by seconds: TimeInterval) {
        date.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

/// Opens once `count` arrivals have happened; waiters resume then (or at once if already open).
final class Latch: Sendable {
    private struct State {
        var remaining: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(count: Int = 1) {
        state = Mutex(State(remaining: count))
    }

    func arrive() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.remaining > 0 else { return [] }
            state.remaining -= 1
            guard state.remaining == 0 else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isOpen = state.withLock { state -> Bool in
                if state.remaining == 0 { return true }
                state.waiters.append(continuation)
                return false
            }
            if isOpen { continuation.resume() }
        }
    }
}

/// A stand-in for IAM: records each call and answers with what the test scripted.
final class FakeIAM: Sendable {
    typealias Answer = @Sendable (_ projectID: String, _ call: Int) async -> Result<IAMToken, IMSClientError>

    private let calls = Mutex<[String]>([])
    private let answer: Answer

    init(answer: @escaping Answer) {
        self.answer = answer
    }

    /// Calls made so far.
    var callCount: Int { calls.withLock { $0.count } }
    /// The project of each call, in order.
    var projects: [String] { calls.withLock { $0 } }

    func fetch(_ projectID: String) async throws(IMSClientError) -> IAMToken {
        let call = calls.withLock { calls -> Int in
            calls.append(projectID)
            return calls.count
        }
        return try await answer(projectID, call).get()
    }
}

@Suite("TokenCache")
struct TokenCacheTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    /// Seconds before `expiresAt` at which a refresh starts.
    static let margin: TimeInterval = 300
    /// Seconds of validity below which the old token is no longer handed out.
    static let minimumRemaining: TimeInterval = 30
    /// Seconds an authentication failure is remembered.
    static let backoff: TimeInterval = 60

    static func token(_ value: String, expiresIn seconds: TimeInterval) -> IAMToken {
        IAMToken(value: value, expiresAt: start.addingTimeInterval(seconds))
    }

    static func makeCache(clock: ManualClock, iam: FakeIAM) -> TokenCache {
        TokenCache(
            refreshMargin: margin, minimumRemaining: minimumRemaining, failureBackoff: backoff,
            now: { clock.now() },
            fetch: { (projectID: String) async throws(IMSClientError) -> IAMToken in try await iam.fetch(projectID) })
    }

    /// The error `token(for:)` throws, nil when it returns a token.
    static func failure(of cache: TokenCache, _ projectID: String) async -> IMSClientError? {
        do {
            _ = try await cache.token(for: projectID)
            return nil
        } catch {
            return error
        }
    }

    static let unavailable = IMSClientError.upstream(UpstreamError(httpStatus: 503, code: nil, message: "busy"))
    static let refused = IMSClientError.authentication(
        UpstreamError(httpStatus: 401, code: "APIGW.0301", message: "Incorrect IAM authentication information"))

    @Test func tokenIsReusedBeforeExpiryMinusMargin() async throws {
        let clock = ManualClock(Self.start)
        let iam = FakeIAM { _, call in .success(Self.token("token-\(call)", expiresIn: 3_600)) }
        let cache = Self.makeCache(clock: clock, iam: iam)

        #expect(try await cache.token(for: "p1").value == "token-1")
        clock.advance(by: 1_000)
        #expect(try await cache.token(for: "p1").value == "token-1")
        clock.advance(by: 3_600 - Self.margin - 1_000 - 1)  // 301 s of validity left
        #expect(try await cache.token(for: "p1").value == "token-1")
        #expect(iam.callCount == 1)
    }

    @Test func oneRefreshAfterTheMarginWhileTheOldTokenServes() async throws {
        let clock = ManualClock(Self.start)
        let refreshStarted = Latch()
        let releaseRefresh = Latch()
        let iam = FakeIAM { _, call in
            if call == 2 {
                refreshStarted.arrive()
                await releaseRefresh.wait()
                return .success(Self.token("token-2", expiresIn: 7_200))
            }
            return .success(Self.token("token-\(call)", expiresIn: 3_600))
        }
        let cache = Self.makeCache(clock: clock, iam: iam)
        #expect(try await cache.token(for: "p1").value == "token-1")

        clock.advance(by: 3_600 - Self.margin + 1)  // 299 s left: inside the margin, above the minimum
        #expect(try await cache.token(for: "p1").value == "token-1")
        await refreshStarted.wait()
        #expect(try await cache.token(for: "p1").value == "token-1")
        #expect(try await cache.token(for: "p1").value == "token-1")
        #expect(iam.callCount == 2)

        releaseRefresh.arrive()
        clock.advance(by: 299 - Self.minimumRemaining + 1)  // 29 s left: callers wait for the refresh
        #expect(try await cache.token(for: "p1").value == "token-2")
        #expect(try await cache.token(for: "p1").value == "token-2")
        #expect(iam.callCount == 2)
    }

    @Test func invalidatingTheOldTokenDuringARefreshMakesCallersWait() async throws {
        let clock = ManualClock(Self.start)
        let refreshStarted = Latch()
        let releaseRefresh = Latch()
        let iam = FakeIAM { _, call in
            if call == 2 {
                refreshStarted.arrive()
                await releaseRefresh.wait()
            }
            return .success(Self.token("token-\(call)", expiresIn: 3_600 * Double(call)))
        }
        let cache = Self.makeCache(clock: clock, iam: iam)
        #expect(try await cache.token(for: "p1").value == "token-1")
        clock.advance(by: 3_600 - Self.margin + 1)
        #expect(try await cache.token(for: "p1").value == "token-1")
        await refreshStarted.wait()

        await cache.invalidate(projectID: "p1", tokenValue: "token-1")
        let waiting = Task { try await cache.token(for: "p1").value }
        releaseRefresh.arrive()
        #expect(try await waiting.value == "token-2")
        #expect(iam.callCount == 2)
    }

    @Test func concurrentCallersOnAnEmptyCacheShareOneFetch() async throws {
        let clock = ManualClock(Self.start)
        let callers = 50
        let arrived = Latch(count: callers)
        let fetchStarted = Latch()
        let releaseFetch = Latch()
        let iam = FakeIAM { _, call in
            fetchStarted.arrive()
            await releaseFetch.wait()
            return .success(Self.token("token-\(call)", expiresIn: 3_600))
        }
        let cache = Self.makeCache(clock: clock, iam: iam)

        let values = await withTaskGroup(of: String?.self, returning: [String?].self) { group in
            for _ in 0..<callers {
                group.addTask {
                    arrived.arrive()
                    return try? await cache.token(for: "p1").value
                }
            }
            await arrived.wait()
            await fetchStarted.wait()
            releaseFetch.arrive()
            var values: [String?] = []
            for await value in group { values.append(value) }
            return values
        }
        #expect(values.count == callers)
        #expect(values.allSatisfy { $0 == "token-1" })
        #expect(iam.callCount == 1)
    }

    @Test(arguments: [
        TokenCacheTests.unavailable,
        IMSClientError.transport(UpstreamTransportError(kind: .timedOut, mayHaveReachedServer: true, message: "timed out")),
    ])
    func failedFetchIsRememberedOnlyForTheBackoff(failure: IMSClientError) async throws {
        let clock = ManualClock(Self.start)
        let iam = FakeIAM { _, call in
            call == 1 ? .failure(failure) : .success(Self.token("token-\(call)", expiresIn: 3_600))
        }
        let cache = Self.makeCache(clock: clock, iam: iam)

        let error = await Self.failure(of: cache, "p1")
        #expect(error?.errorCode == failure.errorCode)
        #expect(iam.callCount == 1)
        // An IAM outage is answered from memory for the backoff, not by calling IAM again...
        #expect(await Self.failure(of: cache, "p1")?.errorCode == failure.errorCode)
        #expect(iam.callCount == 1)
        // ...and is not permanent: after it, IAM is asked again.
        clock.advance(by: Self.backoff)
        #expect(try await cache.token(for: "p1").value == "token-2")
        #expect(iam.callCount == 2)
    }

    @Test func aRefusedPasswordStopsTokenRequestsForEveryProjectWithGrowingPauses() async throws {
        let clock = ManualClock(Self.start)
        let iam = FakeIAM { _, _ in .failure(Self.refused) }
        let cache = Self.makeCache(clock: clock, iam: iam)

        #expect(await Self.failure(of: cache, "p1")?.errorCode == "APIGW.0301")
        for project in (2...50).map({ "p\($0)" }) {
            #expect(await Self.failure(of: cache, project)?.errorCode == "APIGW.0301")
        }
        #expect(iam.callCount == 1)
        clock.advance(by: Self.backoff)
        #expect(await Self.failure(of: cache, "p7") != nil)
        #expect(iam.callCount == 2)
        // The second refusal in a row doubles the pause.
        clock.advance(by: Self.backoff * 2 - 1)
        #expect(await Self.failure(of: cache, "p8") != nil)
        #expect(iam.callCount == 2)
        clock.advance(by: 1)
        #expect(await Self.failure(of: cache, "p9") != nil)
        #expect(iam.callCount == 3)
    }

    @Test func aMarginLongerThanHalfTheLifetimeRenewsHalfWay() async throws {
        let clock = ManualClock(Self.start)
        let iam = FakeIAM { _, call in .success(Self.token("token-\(call)", expiresIn: 100 + Double(call) * 100)) }
        let cache = TokenCache(
            refreshMargin: 86_400, minimumRemaining: 1, failureBackoff: Self.backoff, now: { clock.now() },
            fetch: { (projectID: String) async throws(IMSClientError) -> IAMToken in try await iam.fetch(projectID) })
        #expect(try await cache.token(for: "p1").value == "token-1")  // lives 200 s
        clock.advance(by: 99)
        #expect(try await cache.token(for: "p1").value == "token-1")
        #expect(iam.callCount == 1)
    }

    @Test func authenticationFailureIsAnsweredFromMemoryDuringTheBackoff() async throws {
        let clock = ManualClock(Self.start)
        let iam = FakeIAM { _, call in
            call == 1 ? .failure(Self.refused) : .success(Self.token("token-\(call)", expiresIn: 3_600))
        }
        let cache = Self.makeCache(clock: clock, iam: iam)

        let first = await Self.failure(of: cache, "p1")
        guard case .authentication(let upstream)? = first else {
            Issue.record("expected an authentication failure, got \(String(describing: first))")
            return
        }
        #expect(upstream.code == "APIGW.0301")
        #expect(iam.callCount == 1)

        clock.advance(by: Self.backoff - 1)
        let remembered = await Self.failure(of: cache, "p1")
        #expect(remembered?.errorCode == "APIGW.0301")
        #expect(iam.callCount == 1)

        clock.advance(by: 1)
        #expect(try await cache.token(for: "p1").value == "token-2")
        #expect(iam.callCount == 2)
    }

    @Test func invalidateDropsOnlyTheMatchingToken() async throws {
        let clock = ManualClock(Self.start)
        let iam = FakeIAM { projectID, call in .success(Self.token("\(projectID)-token-\(call)", expiresIn: 3_600)) }
        let cache = Self.makeCache(clock: clock, iam: iam)
        #expect(try await cache.token(for: "p1").value == "p1-token-1")

        await cache.invalidate(projectID: "p1", tokenValue: "some-other-token")
        #expect(try await cache.token(for: "p1").value == "p1-token-1")
        await cache.invalidate(projectID: "p2", tokenValue: "p1-token-1")
        #expect(try await cache.token(for: "p1").value == "p1-token-1")
        #expect(iam.callCount == 1)

        await cache.invalidate(projectID: "p1", tokenValue: "p1-token-1")
        #expect(try await cache.token(for: "p1").value == "p1-token-2")
        #expect(try await cache.token(for: "p1").value == "p1-token-2")
        #expect(iam.callCount == 2)
    }

    @Test func tokensArePerProject() async throws {
        let clock = ManualClock(Self.start)
        let iam = FakeIAM { projectID, call in .success(Self.token("\(projectID)-token-\(call)", expiresIn: 3_600)) }
        let cache = Self.makeCache(clock: clock, iam: iam)

        #expect(try await cache.token(for: "0123456789abcdef0123456789abcdef").value == "0123456789abcdef0123456789abcdef-token-1")
        #expect(try await cache.token(for: "fedcba9876543210fedcba9876543210").value == "fedcba9876543210fedcba9876543210-token-2")
        #expect(try await cache.token(for: "0123456789abcdef0123456789abcdef").value == "0123456789abcdef0123456789abcdef-token-1")
        #expect(try await cache.token(for: "fedcba9876543210fedcba9876543210").value == "fedcba9876543210fedcba9876543210-token-2")
        #expect(iam.projects == ["0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"])
    }

    @Test func failedBackgroundRefreshWaitsOutTheBackoffWhileTheOldTokenServes() async throws {
        let clock = ManualClock(Self.start)
        let iam = FakeIAM { _, call in
            call == 1 ? .success(Self.token("token-1", expiresIn: 3_600)) : .failure(Self.unavailable)
        }
        let cache = Self.makeCache(clock: clock, iam: iam)
        #expect(try await cache.token(for: "p1").value == "token-1")
        clock.advance(by: 3_600 - Self.margin + 1)  // inside the margin: one background refresh, which fails
        #expect(try await cache.token(for: "p1").value == "token-1")
        // Let the failed refresh settle, then ask again and again within the backoff.
        for _ in 0..<20 {
            await Task.yield()
            #expect(try await cache.token(for: "p1").value == "token-1")
        }
        let callsDuringBackoff = iam.callCount
        #expect(callsDuringBackoff == 2)
        clock.advance(by: Self.backoff + 1)
        #expect(try await cache.token(for: "p1").value == "token-1")
        for _ in 0..<1000 where iam.callCount < 3 { await Task.yield() }
        #expect(iam.callCount == 3)
    }
}

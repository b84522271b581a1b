import IMSClient
import Testing

@testable import IMSGateway

@Suite("outcome store")
struct OutcomeStoreTests {
    static let t0 = ContinuousClock.now

    static func plan(_ images: [String] = ["d164b5df-1bc3-4c3f-893e-3e471fd16e64"], status: MemberStatus = .accepted) -> MemberStatusPlan {
        MemberStatusPlan(
            projectID: "0123456789abcdef0123456789abcdef", memberStatus: status, vaultID: nil, images: images,
            batches: [images], warnings: [])
    }

    static func request(
        _ id: String, client: String = "portal", key: String? = nil, plan: MemberStatusPlan = plan()
    ) -> StoredRequest {
        StoredRequest(requestID: id, clientName: client, plan: plan, idempotencyKey: key, started: t0)
    }

    static func finished(_ request: StoredRequest, state: BatchState = .succeeded) -> MemberStatusResult {
        var batch = BatchResult(index: 0, images: request.plan.images)
        batch.state = state
        batch.jobID = "job-\(request.requestID)"
        return MemberStatusResult(requestID: request.requestID, plan: request.plan, batches: [batch], elapsedMs: 5)
    }

    @Test("same client and key: a repeat with the same body, a conflict with another")
    func repeatAndConflict() {
        let store = OutcomeStore()
        let first = Self.request("r1", key: "k")
        guard case .new = store.begin(first, now: Self.t0) else { Issue.record("first not new"); return }
        guard case .repeated(let earlier) = store.begin(Self.request("r2", key: "k"), now: Self.t0) else {
            Issue.record("same body not a repeat"); return
        }
        #expect(earlier === first)
        let other = Self.request("r3", key: "k", plan: Self.plan(["0b680482-acaa-4045-b14c-9a8c7dfe9c70"]))
        guard case .conflict(let conflicting) = store.begin(other, now: Self.t0) else {
            Issue.record("other body not a conflict"); return
        }
        #expect(conflicting === first)
        // Accept and reject of the same images are different requests too.
        guard case .conflict = store.begin(Self.request("r4", key: "k", plan: Self.plan(status: .rejected)), now: Self.t0) else {
            Issue.record("other member status not a conflict"); return
        }
    }

    @Test("keys are scoped to their client")
    func keysPerClient() {
        let store = OutcomeStore()
        guard case .new = store.begin(Self.request("r1", client: "a", key: "k"), now: Self.t0),
            case .new = store.begin(Self.request("r2", client: "b", key: "k"), now: Self.t0)
        else { Issue.record("a key of another client was found"); return }
        #expect(store.find(client: "a", requestID: "r2", now: Self.t0) == nil)
        #expect(store.find(client: "b", requestID: "r2", now: Self.t0) != nil)
    }

    @Test("a final outcome is replayed; one without a final state frees the key")
    func finalAndNonFinal() {
        let store = OutcomeStore()
        let first = Self.request("r1", key: "k")
        _ = store.begin(first, now: Self.t0)
        store.complete(first, with: Self.finished(first, state: .notSubmitted), isFinal: false, now: Self.t0)
        guard case .new = store.begin(Self.request("r2", key: "k"), now: Self.t0) else {
            Issue.record("key not freed after a non-final outcome"); return
        }
        let second = Self.request("r3", key: "k2")
        _ = store.begin(second, now: Self.t0)
        store.complete(second, with: Self.finished(second), isFinal: true, now: Self.t0)
        guard case .repeated(let earlier) = store.begin(Self.request("r4", key: "k2"), now: Self.t0) else {
            Issue.record("final outcome not replayed"); return
        }
        #expect(earlier.finalOutcome?.outcome == .succeeded)
    }

    @Test("complete outcomes expire after the TTL; running ones stay")
    func ttl() {
        let store = OutcomeStore(maxCount: 100, ttl: .seconds(60))
        let done = Self.request("done", key: "k1")
        let running = Self.request("running", key: "k2")
        _ = store.begin(done, now: Self.t0)
        _ = store.begin(running, now: Self.t0)
        store.complete(done, with: Self.finished(done), isFinal: true, now: Self.t0)
        #expect(store.find(client: "portal", requestID: "done", now: Self.t0.advanced(by: .seconds(59))) != nil)
        #expect(store.find(client: "portal", requestID: "done", now: Self.t0.advanced(by: .seconds(61))) == nil)
        #expect(store.find(client: "portal", requestID: "running", now: Self.t0.advanced(by: .seconds(3600))) != nil)
        guard case .new = store.begin(Self.request("again", key: "k1"), now: Self.t0.advanced(by: .seconds(61))) else {
            Issue.record("expired key still held"); return
        }
    }

    @Test("beyond maxCount the oldest complete outcomes go first, never a running one")
    func countBound() {
        let store = OutcomeStore(maxCount: 10, ttl: .seconds(3600))
        let running = Self.request("running")
        _ = store.begin(running, now: Self.t0)
        for index in 0..<30 {
            let request = Self.request("r\(index)")
            _ = store.begin(request, now: Self.t0)
            store.complete(request, with: Self.finished(request), isFinal: true, now: Self.t0)
        }
        #expect(store.count <= 10)
        #expect(store.find(client: "portal", requestID: "running", now: Self.t0) != nil)
        #expect(store.find(client: "portal", requestID: "r29", now: Self.t0) != nil)
        #expect(store.find(client: "portal", requestID: "r0", now: Self.t0) == nil)
    }

    @Test("a waiter gets the outcome when it is stored, or nil at its deadline")
    func waiting() async {
        let request = Self.request("r1")
        let early = await request.outcome(waitingUntil: .now.advanced(by: .milliseconds(20)))
        #expect(early == nil)
        async let later = request.outcome(waitingUntil: .now.advanced(by: .seconds(30)))
        try? await Task.sleep(for: .milliseconds(20))
        request.complete(Self.finished(request), isFinal: true)
        #expect(await later?.outcome == .succeeded)
    }

    @Test("the fingerprint ignores what normalising removes and keeps what matters")
    func fingerprint() {
        let plan = Self.plan()
        #expect(plan.fingerprint == Self.plan().fingerprint)
        #expect(plan.fingerprint != Self.plan(status: .rejected).fingerprint)
        var withVault = plan
        withVault.vaultID = "3b5816b5-f29c-4172-9d9a-76c719a659ce"
        #expect(plan.fingerprint != withVault.fingerprint)
        #expect(plan.fingerprint.count == 64)
    }
}

import CurlHTTP
import Foundation
import Testing

/// Shared budgets (docs/ARCHITECTURE.md, "Shared budgets"): two gateway processes on one
/// PostgreSQL database take the IMS call budget and the clients' buckets from the same rows.
extension ReplicaTests {
    @Test("two replicas with demand above twice a budget of 2/s burst 5: IMS never sees more than the one budget in any 5 s window; every request succeeds")
    func upstreamBudgetShared() async throws {
        try await Self.withDatabase { storeURL in
            let fixture = try await CrashFixture.start(jobDurationMs: 300)
            defer { fixture.stop() }
            // Measure only: the simulator counts the most IMS calls in any 5 s window.
            try await fixture.setFaults(#"{"quota": {"calls": null, "window_seconds": 5}}"#)
            // Default leases (30 s): on a loaded machine a 2 s lease can lapse between two renewals,
            // and a takeover is not what this test is about.
            let environment = ["IMSGW_UPSTREAM_RATE": "2", "IMSGW_UPSTREAM_BURST": "5"]
            let ((_, aBase), (_, bBase)) = try await Self.twoReplicas(fixture, environment: environment, storeURL: storeURL)

            // 12 requests (a submit and at least one poll each), 6 on each replica at once:
            // alone, each replica would send its burst of 5 at once and 2/s after.
            let calls = (0..<12).map { index in
                fixture.send(fixture.accept(index.isMultiple(of: 2) ? aBase : bBase, key: "budget-\(index)", waitSeconds: 90))
            }
            for call in calls {
                switch await call.value {
                case .success(let response):
                    #expect(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))")
                case .failure(let error):
                    Issue.record("a call failed: \(error)")
                }
            }
            #expect(try await fixture.calls(Self.submit) == 12)
            // One budget: burst 5 plus 2/s over 5 s, 15 calls (measured: 15; two unshared
            // budgets sent 26). The budget counts grants on the database's clock, the simulator
            // counts arrivals, which the few ms between a grant and its send can bring closer
            // together: one call of slack.
            let most = try await fixture.stat("max_calls_in_window")
            #expect(most <= 16, "the most IMS calls in a 5 s window: \(most)")
            #expect(most >= 10, "the demand did not fill the budget (\(most) calls): the test proves nothing")
            #expect(try await fixture.stat("throttled_429") == 0)
        }
    }

    @Test("20 calls at once of one client with burst 5 and rate 0.001/s, spread over two replicas: exactly 5 admitted, 15 answered 429 with Retry-After")
    func clientBucketShared() async throws {
        try await Self.withDatabase { storeURL in
            let fixture = try await CrashFixture.start(jobDurationMs: 300)
            defer { fixture.stop() }
            try fixture.writeClients(rate: 0.001, burst: 5)
            let ((_, aBase), (_, bBase)) = try await Self.twoReplicas(fixture, storeURL: storeURL)

            // A read of an unknown request costs one token like any call: 404 when admitted.
            let calls = (0..<20).map { index in
                fixture.send(fixture.stored(index.isMultiple(of: 2) ? aBase : bBase, requestID: "unknown-\(index)"))
            }
            var statuses: [Int] = []
            var retryAfter: [String] = []
            for call in calls {
                switch await call.value {
                case .success(let response):
                    statuses.append(response.status)
                    if response.status == 429 { retryAfter.append(response.header("Retry-After") ?? "") }
                case .failure(let error):
                    Issue.record("a call failed: \(error)")
                }
            }
            #expect(statuses.filter { $0 == 404 }.count == 5, "statuses: \(statuses)")
            #expect(statuses.filter { $0 == 429 }.count == 15, "statuses: \(statuses)")
            // One token per 1000 s: the refused are told to come back in at most that.
            #expect(retryAfter.allSatisfy { (Int($0) ?? 0) > 900 && (Int($0) ?? 0) <= 1000 }, "Retry-After: \(retryAfter)")
        }
    }

    @Test("an IMS 429 on one replica pauses the other: its next take is refused until the pause ends, and its /readyz says paused")
    func pauseSharedAndShown() async throws {
        try await Self.withDatabase { storeURL in
            let fixture = try await CrashFixture.start(jobDurationMs: 300)
            defer { fixture.stop() }
            let ((_, aBase), (_, bBase)) = try await Self.twoReplicas(fixture, storeURL: storeURL)
            try await fixture.setFaults(
                #"{"calls": [{"fault": "throttle", "operation": "BatchUpdateMembers", "count": 1, "retry_after_seconds": 60}]}"#)
            // A's submit gets the 429: A pauses the shared budget for 60 s.
            _ = try await fixture.http.execute(fixture.accept(aBase, key: "throttled", waitSeconds: 2))
            #expect(try await fixture.stat("throttled_429") == 1)
            func paused(_ base: String) async throws -> [String: Any] {
                let body = try await fixture.http.execute(CurlHTTPRequest(method: "GET", url: base + "/readyz")).body
                return CrashFixture.object(body)["upstream"] as? [String: Any] ?? [:]
            }
            #expect(try await paused(aBase)["paused"] as? Bool == true)
            #expect(try await paused(bBase)["paused"] as? Bool == false, "B has not tried IMS yet")
            // B's first call finds the pause in the store: nothing is sent, and B says so.
            let before = try await fixture.calls(Self.submit)
            _ = try await fixture.http.execute(fixture.accept(bBase, key: "after-pause", waitSeconds: 2))
            #expect(try await fixture.calls(Self.submit) == before)
            let shown = try await paused(bBase)
            #expect(shown["paused"] as? Bool == true, "\(shown)")
            #expect((50...60).contains(shown["resumes_in_seconds"] as? Int ?? 0), "\(shown)")
        }
    }
}

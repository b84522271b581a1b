import CurlHTTP
import Foundation
import IMSClient
import IMSGateway
import IMSSimulator
import Testing

extension GatewayHarness {
    /// `PUT /_sim/faults` with `plan` (the simulator's fault-plan JSON).
    fileprivate func putSimulatorPlan(_ plan: [String: Any]) async throws {
        let response = try await http.execute(CurlHTTPRequest(
            method: "PUT", url: simulator.baseURL + "/_sim/faults", headers: [(name: "Content-Type", value: "application/json")],
            body: Array(try JSONSerialization.data(withJSONObject: plan))))
        try #require(response.status == 200, "the simulator refused the plan: \(String(decoding: response.body, as: UTF8.self))")
    }

    fileprivate func stat(_ name: String) async throws -> Int {
        try await simulatorStats()[name] as? Int ?? -1
    }
}

/// The account's IMS call budget and IMS's 429 (APIGW.0308), end to end against the simulator.
@Suite("upstream budget and IMS throttling", .serialized)
struct UpstreamBudgetTests {
    static let images = testImages(1, seed: 11)
    static var body: [String: Any] { ["project_id": testProjectID, "images": images] }

    static func throttleSubmit(_ retryAfter: String, seconds: Int? = nil) -> [String: Any] {
        var fault: [String: Any] = [
            "fault": "throttle", "operation": "BatchUpdateMembers", "count": 1, "retry_after": retryAfter,
        ]
        if let seconds { fault["retry_after_seconds"] = seconds }
        return ["calls": [fault]]
    }

    @Test("429 with Retry-After: 2 on a submit: the budget pauses 2 s, the submit goes again, 200")
    func retryAfterSeconds() async throws {
        try await withGateway(shared: Self.images) { harness in
            try await harness.putSimulatorPlan(Self.throttleSubmit("seconds", seconds: 2))
            let started = ContinuousClock.now
            let answer = try await harness.post("/accept-images", json: Self.body, headers: [("Prefer", "wait=30")])
            let elapsed = started.duration(to: .now)
            #expect(answer.status == 200)
            #expect(elapsed >= .seconds(2))
            // Loose: the whole suite on 2 cores can add seconds; 30 s (the wait) would be a hang.
            #expect(elapsed < .seconds(15))
            let batch = try answer.result().batches[0]
            #expect(batch.state == .succeeded)
            #expect(batch.submitAttempts == 1)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2)
            #expect(try await harness.stat("throttled_429") == 1)
            let metrics = String(decoding: try await harness.get("/metrics").body, as: UTF8.self)
            #expect(metrics.contains(#"imsgw_rate_limited_total{direction="upstream"} 1"#))
        }
    }

    @Test("429 with Retry-After as an HTTP-date: paused until then, 200")
    func retryAfterDate() async throws {
        try await withGateway(shared: Self.images) { harness in
            try await harness.putSimulatorPlan(Self.throttleSubmit("http_date", seconds: 2))
            let started = ContinuousClock.now
            let answer = try await harness.post("/accept-images", json: Self.body, headers: [("Prefer", "wait=30")])
            #expect(answer.status == 200)
            // An HTTP-date has whole seconds: the pause is between 1 and 3 s.
            #expect(started.duration(to: .now) >= .seconds(1))
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2)
        }
    }

    @Test("429 with a garbage or no Retry-After: a jittered backoff of about 1 s, 200", arguments: ["garbage", "none"])
    func retryAfterMissing(_ kind: String) async throws {
        try await withGateway(shared: Self.images) { harness in
            try await harness.putSimulatorPlan(Self.throttleSubmit(kind))
            let started = ContinuousClock.now
            let answer = try await harness.post("/accept-images", json: Self.body, headers: [("Prefer", "wait=30")])
            let elapsed = started.duration(to: .now)
            #expect(answer.status == 200)
            #expect(elapsed >= .milliseconds(800))
            #expect(elapsed < .seconds(15))
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2)
        }
    }

    @Test("429 on polls: the wait goes on after the pause, 200")
    func throttledPolls() async throws {
        try await withGateway(shared: Self.images) { harness in
            try await harness.putSimulatorPlan([
                "calls": [["fault": "throttle", "operation": "ShowJob", "count": 2, "retry_after": "seconds", "retry_after_seconds": 1]]
            ])
            let answer = try await harness.post("/accept-images", json: Self.body, headers: [("Prefer", "wait=30")])
            #expect(answer.status == 200)
            #expect(try answer.result().batches[0].state == .succeeded)
            #expect(try await harness.stat("throttled_429") == 2)
        }
    }

    @Test("IMS answers 429 until the deadline: 429 not_submitted with Retry-After, nothing submitted")
    func throttledToTheDeadline() async throws {
        try await withGateway(shared: Self.images) { harness in
            try await harness.putSimulatorPlan(Self.throttleSubmit("seconds", seconds: 5).merging(
                ["calls": [["fault": "throttle", "operation": "BatchUpdateMembers", "retry_after": "seconds", "retry_after_seconds": 5]]]
            ) { $1 })
            let answer = try await harness.post("/accept-images", json: Self.body, headers: [("Prefer", "wait=2")])
            #expect(answer.status == 429)
            #expect(answer.json["type"] as? String == "urn:ims-gateway:problem:upstream-throttled")
            let retryAfter = answer.header("Retry-After").flatMap(Int.init) ?? 0
            #expect((1...5).contains(retryAfter), "Retry-After \(retryAfter)")
            let result = try answer.result()
            #expect(result.outcome == .notSubmitted)
            #expect(result.batches[0].state == .notSubmitted)
            #expect(result.batches[0].errorCode == "APIGW.0308")
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 1)
        }
    }

    @Test("a budget with no room before the deadline: 429 not_submitted without any IMS call")
    func budgetExhausted() async throws {
        try await withGateway(
            shared: testImages(3, seed: 12), adjust: { $0.upstreamRate = 0.01; $0.upstreamBurst = 1; $0.maxImagesPerJob = 1 }
        ) { harness in
            // The one token goes to the first batch's submit; the others cannot get one in 1 s.
            let answer = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": testImages(3, seed: 12)],
                headers: [("Prefer", "wait=1")])
            #expect(answer.status == 504)
            let result = try answer.result()
            #expect(result.batches.map(\.state).filter { $0 == .notSubmitted }.count == 2)
            #expect(result.batches.filter { $0.state == .notSubmitted }.allSatisfy { $0.errorCode == "upstream.throttled" })
            let second = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": [testImages(3, seed: 12)[0]]],
                headers: [("Prefer", "wait=1")])
            #expect(second.status == 429)
            #expect(try second.result().outcome == .notSubmitted)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 1)
        }
    }

    @Test("100 requests against a quota of 100 calls per 10 s, budget 8/s burst 5: every one 200, no 429 at IMS")
    func quotaNeverHit() async throws {
        let images = testImages(100, seed: 13)
        try await withGateway(
            shared: images, jobDuration: .milliseconds(200),
            adjust: {
                // At most 8 × 10 + 5 = 85 calls in any 10 s: room below 100 for the timers of a loaded machine.
                $0.upstreamRate = 8
                $0.upstreamBurst = 5
                $0.pollSchedule = .init(initialDelay: .milliseconds(300), growthFactor: 1.5, maxDelay: .seconds(2), jitter: 0.1)
            }
        ) { harness in
            try await harness.putSimulatorPlan(["quota": ["calls": 100, "window_seconds": 10]])
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for image in images {
                    group.addTask {
                        try await harness.post(
                            "/accept-images", json: ["project_id": testProjectID, "images": [image]],
                            headers: [("Prefer", "wait=120")]
                        ).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 100))
            #expect(try await harness.stat("quota_rejections") == 0)
            #expect(try await harness.stat("throttled_429") == 0)
            let maxInWindow = try await harness.stat("max_calls_in_window")
            #expect(maxInWindow <= 100, "max calls in a 10 s window: \(maxInWindow)")
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 100)
        }
    }

    @Test("a wait for a budget token is bounded by the caller's deadline, not by upstream.timeoutMs")
    func tokenWaitBeyondCallTimeout() async throws {
        let images = testImages(4, seed: 14)
        try await withGateway(
            shared: images, jobDuration: .zero,
            adjust: { $0.upstreamRate = 2; $0.upstreamBurst = 1; $0.upstreamTimeoutMilliseconds = 500 }
        ) { harness in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for image in images {
                    group.addTask {
                        try await harness.post(
                            "/accept-images", json: ["project_id": testProjectID, "images": [image]],
                            headers: [("Prefer", "wait=20")]
                        ).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            // 4 submits and their polls at 2 calls per second: well over 500 ms of queueing.
            #expect(statuses == [200, 200, 200, 200])
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 4)
        }
    }

    @Test("429 with Retry-After: 0 on every submit: at most 3 resends a call, never a stream")
    func retryAfterZero() async throws {
        try await withGateway(shared: Self.images) { harness in
            try await harness.putSimulatorPlan([
                "calls": [["fault": "throttle", "operation": "BatchUpdateMembers", "retry_after": "seconds", "retry_after_seconds": 0]]
            ])
            let answer = try await harness.post("/accept-images", json: Self.body, headers: [("Prefer", "wait=20")])
            #expect(answer.status == 429)
            #expect(try answer.result().outcome == .notSubmitted)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 4)
        }
    }
}

import CurlHTTP
import Foundation
import IMSSimulator
import Testing

/// The account quota over real HTTP: every IMS call counts, IAM does not; beyond the quota
/// 429 APIGW.0308 in the API gateway's shape; the stats count the 429s and the busiest window.
@Suite("simulator quota", .serialized)
struct QuotaEnforcementTests {
    @Test("N calls per window are admitted, whatever the operation; the rest are 429 APIGW.0308 with the reference's body")
    func quotaRefusesBeyondLimit() async throws {
        try await withSimulatorClient { client in
            let auth = try await client.auth()
            try await client.putFaults(["quota": ["calls": 3, "window_seconds": 60]])
            let jobID = try await client.submitJob(auth: auth)
            #expect(try await client.showJob(jobID, auth: auth).status == 200)
            #expect(try await client.showJobProgress(jobID, auth: auth).status == 200)
            let refused = try await client.showJob(jobID, auth: auth)
            #expect(refused.status == 429)
            #expect(refused.json["error_code"] as? String == "APIGW.0308")
            #expect(
                refused.json["error_msg"] as? String
                    == "The throttling threshold has been reached: policy user over ratelimit, limit:3, time:1 minute")
            #expect(refused.json["request_id"] as? String == refused.header("X-Request-Id"))
            #expect(refused.header("Retry-After") == nil)
            #expect(try await client.submit([SimulatorClient.shared], auth: auth).status == 429)
            #expect(try await client.token().status == 201, "IAM is not IMS: no quota")
            let stats = try await client.stats()
            #expect(stats["throttled_429"] as? Int == 2)
            #expect(stats["quota_rejections"] as? Int == 2)
            #expect(stats["quota_calls"] as? Int == 3)
            #expect(stats["quota_window_seconds"] as? Int == 60)
            #expect(stats["max_calls_in_window"] as? Int == 5)
            #expect(stats["jobs_created"] as? Int == 1)
            #expect((stats["calls"] as? [String: Int])?["ShowJob"] == 2)
        }
    }

    @Test("the window slides: once W seconds have passed, calls are admitted again")
    func windowSlides() async throws {
        try await withSimulatorClient { client in
            let auth = try await client.auth()
            // A 5 s window: the three calls must fall in one window even on a loaded machine.
            try await client.putFaults(["quota": ["calls": 2, "window_seconds": 5]])
            let unknown = "ff80808100000000000000000000dead"
            #expect(try await client.showJob(unknown, auth: auth).status == 404)
            #expect(try await client.showJob(unknown, auth: auth).status == 404)
            let refused = try await client.showJob(unknown, auth: auth)
            #expect(refused.status == 429)
            #expect((refused.json["error_msg"] as? String)?.hasSuffix("limit:2, time:5 second") == true)
            try await Task.sleep(for: .milliseconds(5100))
            #expect(try await client.showJob(unknown, auth: auth).status == 404)
            let stats = try await client.stats()
            #expect(stats["quota_rejections"] as? Int == 1)
            #expect(stats["max_calls_in_window"] as? Int == 3)
        }
    }

    @Test("without calls the quota only measures: nothing refused, the busiest window counted")
    func measureOnly() async throws {
        try await withSimulatorClient { client in
            let auth = try await client.auth()
            try await client.putFaults(["quota": ["window_seconds": 10]])
            for _ in 0..<6 {
                #expect(try await client.showJob("ff80808100000000000000000000dead", auth: auth).status == 404)
            }
            let stats = try await client.stats()
            #expect(stats["max_calls_in_window"] as? Int == 6)
            #expect(stats["quota_calls"] is NSNull)
            #expect(stats["throttled_429"] as? Int == 0)
        }
    }
}

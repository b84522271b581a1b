import Foundation
import IMSGateway
import Testing

/// `GET /metrics` after real traffic.
@Suite("metrics", .serialized)
struct MetricsTests {
    @Test("requests, upstream calls, polls, job duration and token refreshes are exposed in Prometheus text")
    func exposition() async throws {
        let images = testImages(2)
        try await withGateway(shared: images) { harness in
            #expect(try await harness.post("/accept-images", json: ["project_id": testProjectID, "images": images]).status == 200)
            #expect(try await harness.get("/no-such-path").status == 404)
            let answer = try await harness.get("/metrics")
            #expect(answer.status == 200)
            #expect(answer.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = String(decoding: answer.body, as: UTF8.self)
            let lines = Set(text.split(separator: "\n").map(String.init))
            #expect(lines.contains(#"imsgw_requests_total{route="/accept-images",status="200"} 1"#))
            #expect(lines.contains(#"imsgw_requests_total{route="unknown",status="404"} 1"#))
            #expect(lines.contains(#"imsgw_upstream_calls_total{operation="BatchUpdateMembers",status="200"} 1"#))
            #expect(lines.contains(#"imsgw_upstream_calls_total{operation="KeystoneCreateUserTokenByPassword",status="201"} 1"#))
            #expect(lines.contains(#"imsgw_token_refreshes_total{result="success"} 1"#))
            #expect(lines.contains("imsgw_job_polls_count 1"))
            #expect(lines.contains(#"imsgw_job_duration_seconds_count{state="succeeded"} 1"#))
            #expect(lines.contains("imsgw_callers_waiting 0.0"))
            #expect(!text.contains("MIIsim"))
            #expect(!text.contains("no-such-path"))
        }
    }
}

import CurlHTTP
import Foundation
import IMSSimulator
import Testing

/// `GET`, `PUT` and `DELETE /_sim/faults` over real HTTP.
@Suite("simulator fault control", .serialized)
struct FaultControlTests {
    @Test("PUT answers the running plan; GET shows remaining counts; a bad PUT is 400 naming the field and changes nothing")
    func putAndGet() async throws {
        try await withSimulatorClient { client in
            let plan = try await client.putFaults(["calls": [["fault": "throttle", "operation": "ShowJob", "count": 2]]])
            #expect((plan["calls"] as? [[String: Any]])?.first?["remaining"] as? Int == 2)
            let auth = try await client.auth()
            #expect(try await client.showJob("ff80808100000000000000000000dead", auth: auth).status == 429)
            let running = try await client.call("GET", "/_sim/faults").json
            let fault = (running["calls"] as? [[String: Any]])?.first
            #expect(fault?["remaining"] as? Int == 1)
            #expect(fault?["retry_after"] as? String == "seconds")
            #expect(fault?["retry_after_seconds"] as? Int == 2)
            #expect((running["quota"] as? [String: Any])?["window_seconds"] as? Int == 60)

            let bad = try await client.call("PUT", "/_sim/faults", json: ["calls": [["fault": "http_error", "status": 99]]])
            #expect(bad.status == 400)
            #expect((bad.json["error"] as? String)?.contains("calls[0].status") == true)
            let unchanged = try await client.call("GET", "/_sim/faults").json["calls"] as? [[String: Any]]
            #expect(unchanged?.first?["remaining"] as? Int == 1)
        }
    }

    @Test("DELETE puts back the start-up plan (its duration and quota), without the faults added since")
    func deleteRestoresStartPlan() async throws {
        var configuration = SimulatorClient.configuration()
        configuration.faults.quota = Quota(calls: 50, windowSeconds: 10)
        configuration.faults.jobs = [JobFault(.notFound(polls: 1))]
        try await withSimulatorClient(configuration) { client in
            try await client.putFaults(["quota": NSNull(), "calls": [["fault": "close"]]])
            let cleared = try await client.call("DELETE", "/_sim/faults")
            #expect(cleared.status == 200)
            #expect((cleared.json["quota"] as? [String: Any])?["calls"] as? Int == 50)
            #expect((cleared.json["calls"] as? [Any])?.isEmpty == true)
            #expect((cleared.json["jobs"] as? [[String: Any]])?.first?["fault"] as? String == "not_found")
            #expect(try await client.token().status == 201)
        }
    }
}

import CurlHTTP
import Foundation
import IMSSimulator
import Testing

/// Each call fault of `PUT /_sim/faults` does exactly what it says, over real loopback HTTP.
@Suite("simulator call faults", .serialized)
struct CallFaultTests {
    @Test("http_error: the next N calls of the operation answer 500 or 503 with IMS's error body, then it is used up")
    func serverErrorBurst() async throws {
        try await withSimulatorClient { client in
            let auth = try await client.auth()
            let jobID = try await client.submitJob(auth: auth)
            try await client.putFaults(["calls": [
                ["fault": "http_error", "operation": "ShowJob", "count": 2, "status": 503],
                ["fault": "http_error", "operation": "BatchUpdateMembers", "count": 1, "status": 500],
            ]])
            for _ in 0..<2 {
                let answer = try await client.showJob(jobID, auth: auth)
                #expect(answer.status == 503)
                let error = answer.json["error"] as? [String: Any]
                #expect(error?["code"] as? String == "IMG.0503")
                #expect(error?["message"] as? String == "Service unavailable.")
                #expect(answer.header("X-Request-Id")?.isEmpty == false)
            }
            #expect(try await client.showJob(jobID, auth: auth).status == 200)
            #expect(try await client.showJobProgress(jobID, auth: auth).status == 200)
            let submit = try await client.submit([SimulatorClient.shared], auth: auth)
            #expect(submit.status == 500)
            #expect((submit.json["error"] as? [String: Any])?["code"] as? String == "IMG.0500")
            #expect(try await client.submit([SimulatorClient.shared], auth: auth).status == 200)
            let stats = try await client.stats()
            #expect((stats["faults_injected"] as? [String: Int])?["http_error"] == 3)
            #expect((stats["calls"] as? [String: Int])?["ShowJob"] == 3)
            #expect(stats["jobs_created"] as? Int == 2)
        }
    }

    @Test("close: the call gets no answer at all (libcurl: connection lost); the next call is answered")
    func abruptClose() async throws {
        try await withSimulatorClient { client in
            let auth = try await client.auth()
            let jobID = try await client.submitJob(auth: auth)
            // libcurl repeats a request once, on a new connection, when a reused one closes
            // before any byte of an answer: two closes make that repeat fail too.
            try await client.putFaults(["calls": [["fault": "close", "operation": "ShowJob", "count": 2]]])
            let error = await #expect(throws: CurlHTTPError.self) { try await client.showJob(jobID, auth: auth) }
            #expect(error?.code == .connectionLost)
            #expect(try await client.showJob(jobID, auth: auth).status == 200)
            #expect(try await client.injected("close") == 2)
        }
    }

    @Test("close on a new connection: one close is one failed call, and nothing was done")
    func abruptCloseFreshConnection() async throws {
        try await withSimulatorClient { client in
            try await client.putFaults(["calls": [["fault": "close", "operation": "KeystoneCreateUserTokenByPassword", "count": 1]]])
            // A client of its own: its first call opens a new connection, which libcurl does not repeat.
            let error = try await Self.withNewClient(client) { fresh in
                await #expect(throws: CurlHTTPError.self) { try await fresh.token() }
            }
            #expect(error?.code == .connectionLost)
            #expect(error?.curlCode == 52, "CURLE_GOT_NOTHING: closed before any byte of an answer")
            #expect(error?.mayHaveReachedServer == true)
            #expect(try await client.token().status == 201)
            let stats = try await client.stats()
            #expect((stats["faults_injected"] as? [String: Int])?["close"] == 1)
            #expect((stats["calls"] as? [String: Int])?["KeystoneCreateUserTokenByPassword"] == 2)
            #expect(stats["tokens_issued"] as? Int == 1)
        }
    }

    @Test("close with reset: the connection is reset (TCP RST) without an answer")
    func abruptReset() async throws {
        try await withSimulatorClient { client in
            try await client.putFaults(["calls": [["fault": "close", "reset": true, "count": 1]]])
            let error = try await Self.withNewClient(client) { fresh in
                await #expect(throws: CurlHTTPError.self) { try await fresh.token() }
            }
            #expect(error?.code == .connectionLost)
            #expect(error?.curlCode == 56, "CURLE_RECV_ERROR: connection reset by peer")
            #expect(try await client.token().status == 201)
            #expect(try await client.injected("close") == 1)
        }
    }

    /// Runs `body` with a client that has no connection open yet.
    static func withNewClient<Value>(
        _ client: SimulatorClient, _ body: (SimulatorClient) async throws -> Value
    ) async throws -> Value {
        let http = try CurlHTTPClient()
        defer { http.shutdown() }
        return try await body(SimulatorClient(http: http, baseURL: client.baseURL))
    }

    @Test("delay: the next N calls are answered after delay_ms, correctly; then at full speed")
    func slowAnswers() async throws {
        try await withSimulatorClient { client in
            let auth = try await client.auth()
            let jobID = try await client.submitJob(auth: auth)
            try await client.putFaults(["calls": [["fault": "delay", "operation": "ShowJob", "count": 2, "delay_ms": 1000]]])
            let clock = ContinuousClock()
            for _ in 0..<2 {
                let start = clock.now
                let answer = try await client.showJob(jobID, auth: auth)
                #expect(answer.status == 200)
                #expect(start.duration(to: clock.now) >= .milliseconds(1000))
            }
            let start = clock.now
            #expect(try await client.showJob(jobID, auth: auth).status == 200)
            // Loose: only "no delay any more" matters, on a loaded machine too.
            #expect(start.duration(to: clock.now) < .milliseconds(1000))
            #expect(try await client.injected("delay") == 2)
        }
    }

    @Test("delay without count applies always, and combines with another fault on the same call")
    func alwaysSlowAndFailing() async throws {
        try await withSimulatorClient { client in
            try await client.putFaults(["calls": [
                ["fault": "delay", "delay_ms": 200],
                ["fault": "http_error", "status": 500, "count": 1, "error_code": "IMG.0999", "message": "boom"],
            ]])
            let clock = ContinuousClock()
            for expected in [500, 201, 201] {
                let start = clock.now
                let answer = try await client.call("POST", "/v3/auth/tokens", json: ["auth": [:]])
                #expect(start.duration(to: clock.now) >= .milliseconds(200))
                if expected == 500 {
                    #expect(answer.status == 500)
                    #expect((answer.json["error"] as? [String: Any])?["code"] as? String == "IMG.0999")
                    #expect((answer.json["error"] as? [String: Any])?["message"] as? String == "boom")
                } else {
                    #expect(answer.status == 400)  // the body is no token request: IAM's own answer, late
                }
            }
            let faults = try await client.call("GET", "/_sim/faults").json["calls"] as? [[String: Any]]
            #expect(faults?[0]["remaining"] is NSNull)
            #expect(faults?[1]["remaining"] as? Int == 0)
        }
    }

    @Test("malformed_json: the next N ShowJob answers are 200 with half a JSON body; the job is not seen final")
    func malformedBodies() async throws {
        try await withSimulatorClient(SimulatorClient.configuration(jobDuration: .zero)) { client in
            let auth = try await client.auth()
            let jobID = try await client.submitJob(auth: auth)
            try await client.putFaults(["calls": [["fault": "malformed_json", "operation": "ShowJob", "count": 2]]])
            for _ in 0..<2 {
                let answer = try await client.showJob(jobID, auth: auth)
                #expect(answer.status == 200)
                #expect(answer.header("Content-Type") == "application/json;charset=UTF-8")
                #expect(answer.header("Content-Length") == String(answer.response.body.count))
                #expect(answer.response.body.first == UInt8(ascii: "{"))
                #expect((try? JSONSerialization.jsonObject(with: Data(answer.response.body))) == nil)
            }
            #expect(try await client.measures(jobID)["first_final_poll_at"] is NSNull)
            let intact = try await client.showJob(jobID, auth: auth)
            #expect(intact.json["status"] as? String == "SUCCESS")
            #expect(try await client.measures(jobID)["first_final_poll_at"] as? Int64 != nil)
            #expect(try await client.injected("malformed_json") == 2)
        }
    }

    @Test("throttle: 429 APIGW.0308 with Retry-After: 2, an HTTP-date, garbage, or none, for the next N calls")
    func throttled() async throws {
        try await withSimulatorClient { client in
            let auth = try await client.auth()
            try await client.putFaults(["calls": [
                ["fault": "throttle", "operation": "BatchUpdateMembers", "count": 1],
                ["fault": "throttle", "operation": "BatchUpdateMembers", "count": 1, "retry_after": "http_date", "retry_after_seconds": 30],
                ["fault": "throttle", "operation": "BatchUpdateMembers", "count": 1, "retry_after": "garbage"],
                ["fault": "throttle", "operation": "BatchUpdateMembers", "count": 1, "retry_after": "none"],
            ]])
            var answers: [SimulatorClient.Answer] = []
            for _ in 0..<4 { answers.append(try await client.submit([SimulatorClient.shared], auth: auth)) }
            for answer in answers {
                #expect(answer.status == 429)
                #expect(answer.json["error_code"] as? String == "APIGW.0308")
                #expect((answer.json["error_msg"] as? String)?.contains("policy user over ratelimit") == true)
                #expect(answer.json["request_id"] as? String == answer.header("X-Request-Id"))
            }
            #expect(answers[0].header("Retry-After") == "2")
            let date = try #require(answers[1].header("Retry-After"))
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let parsed = try #require(formatter.date(from: date), "\(date)")
            #expect((29...32).contains(parsed.timeIntervalSinceNow.rounded()), "\(date)")
            #expect(answers[2].header("Retry-After") == "soon, maybe")
            #expect(answers[3].header("Retry-After") == nil)
            #expect(try await client.submit([SimulatorClient.shared], auth: auth).status == 200)
            let stats = try await client.stats()
            #expect(stats["throttled_429"] as? Int == 4)
            #expect(stats["quota_rejections"] as? Int == 0)
            #expect((stats["faults_injected"] as? [String: Int])?["throttle"] == 4)
            #expect(stats["jobs_created"] as? Int == 1)
        }
    }
}

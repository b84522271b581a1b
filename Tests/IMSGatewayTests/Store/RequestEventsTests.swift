import Foundation
import GatewayStore
import IMSClient
import Testing

@testable import IMSGateway

@Suite("RequestEvents: the data stored with each event")
struct RequestEventsTests {
    @Test("admitted: the request id and every batch's images, keys sorted")
    func admitted() {
        let plan = MemberStatusPlan(
            projectID: String(repeating: "a", count: 32), memberStatus: .accepted, vaultID: nil, images: ["i1", "i2", "i\"3"],
            batches: [["i1", "i2"], ["i\"3"]], warnings: [])
        let now = ContinuousClock.now
        let request = StoredRequest(
            requestID: "r-1", clientName: "team-a", route: "/accept-images", plan: plan, idempotencyKey: nil, started: now,
            backgroundUntil: now)
        let event = RequestEvents.admitted(request)
        #expect(event.kind == "admitted")
        #expect(
            event.data
                == #"{"batches":[{"images":["i1","i2"],"index":0,"state":"queued"},{"images":["i\"3"],"index":1,"state":"queued"}],"events_url":"/accept-images/r-1/events","member_status":"accepted","project_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","request_id":"r-1"}"#)
    }

    @Test("batch: the batch as the answer document shows it")
    func batch() {
        var batch = BatchResult(index: 2, images: ["i1"])
        batch.jobID = "ff8080814dbd65d7014dc2e13e6f1a3c"
        batch.jobStatus = "RUNNING"
        batch.state = .pending
        batch.submitAttempts = 3
        batch.polls = 1
        let event = RequestEvents.batch(batch)
        #expect(event.kind == "batch")
        #expect(
            event.data
                == #"{"images":["i1"],"index":2,"job_id":"ff8080814dbd65d7014dc2e13e6f1a3c","job_status":"RUNNING","polls":1,"state":"pending","submit_attempts":3}"#)
    }

    @Test("result: the whole document, its HTTP status and the stored state; the data is one JSON object")
    func result() throws {
        var batch = BatchResult(index: 0, images: ["i1"])
        batch.state = .succeeded
        let plan = MemberStatusPlan(
            projectID: String(repeating: "a", count: 32), memberStatus: .accepted, vaultID: nil, images: ["i1"],
            batches: [["i1"]], warnings: [])
        let document = MemberStatusResult(requestID: "r-1", plan: plan, batches: [batch], elapsedMs: 12)
        let event = RequestEvents.result(document, state: .final)
        #expect(event.kind == "result")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any])
        #expect(object["status"] as? Int == 200)
        #expect(object["state"] as? String == "final")
        #expect((object["document"] as? [String: Any])?["outcome"] as? String == "succeeded")
        #expect(event.data.contains(String(decoding: document.jsonUTF8, as: UTF8.self)))
    }
}

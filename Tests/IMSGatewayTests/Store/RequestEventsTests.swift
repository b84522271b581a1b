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
            requestID: "r-1", clientName: "team-a", plan: plan, idempotencyKey: nil, started: now, backgroundUntil: now)
        let event = RequestEvents.admitted(request)
        #expect(event.kind == "admitted")
        #expect(event.data == #"{"batches":[{"images":["i1","i2"],"index":0},{"images":["i\"3"],"index":1}],"request_id":"r-1"}"#)
    }

    @Test("batch: index, job id, state and submit attempts")
    func submitted() {
        let event = RequestEvents.submitted(index: 2, jobID: "ff8080814dbd65d7014dc2e13e6f1a3c", submitAttempts: 3)
        #expect(event.kind == "batch")
        #expect(event.data == #"{"index":2,"job_id":"ff8080814dbd65d7014dc2e13e6f1a3c","state":"pending","submit_attempts":3}"#)
    }
}

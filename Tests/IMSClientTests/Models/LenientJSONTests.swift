import Testing

@testable import IMSClient

@Suite("LenientJSON")
struct LenientJSONTests {
    @Test("a job id IMS sends as a long number reads as all its digits")
    func longNumberJobID() {
        let object = LenientJSON.object(Array(#"{"job_id":12345678901234567890123}"#.utf8))
        #expect(LenientJSON.string(object?["job_id"]) == "12345678901234567890123")
    }
}

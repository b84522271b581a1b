import Foundation
import IMSClient
import Testing

@testable import IMSGateway

@Suite("LifecycleBatch records: the results column")
struct LifecycleBatchRecordTests {
    @Test("per-image results are written compactly, nil fields left out, and read back")
    func results() throws {
        let results = [
            ImageMemberResult(imageID: "img-1", projectID: "p1", status: "success"),
            ImageMemberResult(imageID: "img-\"2\"", projectID: nil, status: "failed"),
            ImageMemberResult(imageID: nil, projectID: nil, status: nil),
        ]
        let text = try #require(LifecycleBatch.encode(results))
        #expect(text == #"[{"image_id":"img-1","project_id":"p1","status":"success"},{"image_id":"img-\"2\"","status":"failed"},{}]"#)
        #expect(LifecycleBatch.decode(text) == results)
        #expect(LifecycleBatch.encode(nil) == nil)
        #expect(LifecycleBatch.encode([]) == "[]")
        // What JSONEncoder wrote before is read the same way.
        let foundation = String(decoding: try JSONEncoder().encode(results), as: UTF8.self)
        #expect(LifecycleBatch.decode(foundation) == results)
    }
}

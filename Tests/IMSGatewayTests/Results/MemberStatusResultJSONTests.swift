import Foundation
import IMSClient
import Testing

@testable import IMSGateway

@Suite("MemberStatusResult JSON: the hand-written answer matches JSONEncoder's")
struct MemberStatusResultJSONTests {
    static let odd = "a\"b\\c/d\n\t\r\u{8}\u{C}\u{0}\u{1F}\u{7F} é ✓ 😀 \u{2028}\u{2029}"

    static func plan(images: [String], batches: [[String]], warnings: [String]) -> MemberStatusPlan {
        MemberStatusPlan(
            projectID: "edc89b490d7d4392898e19b2deb34797", memberStatus: .rejected, vaultID: nil, images: images,
            batches: batches, warnings: warnings)
    }

    static var samples: [MemberStatusResult] {
        var full = BatchResult(index: 0, images: ["img-1", odd])
        full.jobID = "ff8080814dbd65d7014dc2e13e6f1a3c"
        full.jobStatus = "SUCCESS"
        full.state = .succeeded
        full.errorCode = odd
        full.failReason = odd
        full.beginTime = "2026-12-03T10:00:00Z"
        full.endTime = "2026-12-03T10:00:03Z"
        full.results = [
            ImageMemberResult(imageID: "img-1", projectID: "p", status: "success"),
            ImageMemberResult(imageID: nil, projectID: nil, status: nil),
        ]
        full.submitAttempts = 3
        full.polls = 1_000_000_000_007
        var empty = BatchResult(index: 1, images: [])
        empty.results = []
        var pending = BatchResult(index: 2, images: ["img-3"])
        pending.state = .pending
        pending.jobID = "job-2"
        let queued = BatchResult(index: 3, images: ["img-4"])
        return [
            MemberStatusResult(requestID: "r-1", plan: plan(images: [], batches: [], warnings: []), batches: [], elapsedMs: 0),
            MemberStatusResult(
                requestID: odd, plan: plan(images: ["img-1", odd], batches: [["img-1", odd]], warnings: [odd, ""]),
                batches: [full, empty, pending, queued], elapsedMs: 123_456),
        ]
    }

    @Test("the same bytes as JSONEncoder with sorted keys and unescaped slashes")
    func sameBytes() {
        for result in Self.samples {
            var running = result
            running.outcome = .running
            for document in [result, running] {
                let written = String(decoding: document.jsonUTF8, as: UTF8.self)
                let encoded = String(decoding: ResponseFactory.encoded(document), as: UTF8.self)
                #expect(written == encoded)
            }
        }
    }

    @Test("reads back as the same document")
    func roundTrip() throws {
        for result in Self.samples {
            #expect(try JSONDecoder().decode(MemberStatusResult.self, from: Data(result.jsonUTF8)) == result)
        }
    }
}

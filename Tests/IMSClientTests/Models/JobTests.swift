import Testing

@testable import IMSClient

@Suite("Job.decode")
struct JobTests {
    /// The assumed FAIL answer described in docs/IMS-API.md, "Job queries".
    static let assumedFailBody = """
        {"status": "FAIL", "job_id": "ff8080817d1b1a2b017d2c3d4e5f0001", "job_type": "imsUpdateImageMembersJob",
         "begin_time": "2026-11-29T06:15:56Z", "end_time": "2026-11-29T06:15:58Z",
         "error_code": "IMG.0104", "fail_reason": "image 0b2a8c1e-... is not shared with project fedcba98...",
         "entities": {"results": [
           {"image_id": "d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1", "project_id": "fedcba9876543210fedcba9876543210", "status": "success"},
           {"image_id": "0b2a8c1e-5f7a-4a2c-9d0e-7c3b1e2f4a5b", "project_id": "fedcba9876543210fedcba9876543210", "status": "failed"}]}}
        """

    private static func decode(_ text: String) -> Job? {
        Job.decode(Array(text.utf8))
    }

    @Test func assumedFailShape() throws {
        let job = try #require(Self.decode(Self.assumedFailBody))
        #expect(job.status == .failure)
        #expect(job.status.isFinal)
        #expect(job.rawStatus == "FAIL")
        #expect(job.jobID == "ff8080817d1b1a2b017d2c3d4e5f0001")
        #expect(job.jobType == "imsUpdateImageMembersJob")
        #expect(job.beginTime == "2026-11-29T06:15:56Z")
        #expect(job.endTime == "2026-11-29T06:15:58Z")
        #expect(job.errorCode == "IMG.0104")
        #expect(job.failReason == "image 0b2a8c1e-... is not shared with project fedcba98...")
        #expect(
            job.results == [
                ImageMemberResult(
                    imageID: "d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1", projectID: "fedcba9876543210fedcba9876543210",
                    status: "success"),
                ImageMemberResult(
                    imageID: "0b2a8c1e-5f7a-4a2c-9d0e-7c3b1e2f4a5b", projectID: "fedcba9876543210fedcba9876543210",
                    status: "failed"),
            ])
    }

    @Test func successShape() throws {
        let body = """
            {"status": "SUCCESS", "job_id": "ff8080817d1b1a2b017d2c3d4e5f0002", "job_type": "imsUpdateImageMembersJob",
             "begin_time": "2026-11-29T06:15:56Z", "end_time": "2026-11-29T06:15:57Z",
             "error_code": null, "fail_reason": "",
             "entities": {"results": [
               {"image_id": "d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1", "project_id": "fedcba9876543210fedcba9876543210", "status": "success"}]}}
            """
        let job = try #require(Self.decode(body))
        #expect(
            job
                == Job(
                    status: .success, rawStatus: "SUCCESS", jobID: "ff8080817d1b1a2b017d2c3d4e5f0002",
                    jobType: "imsUpdateImageMembersJob", beginTime: "2026-11-29T06:15:56Z",
                    endTime: "2026-11-29T06:15:57Z", errorCode: nil, failReason: nil,
                    results: [
                        ImageMemberResult(
                            imageID: "d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1",
                            projectID: "fedcba9876543210fedcba9876543210", status: "success")
                    ]))
        #expect(job.status.isFinal)
    }

    @Test(arguments: [
        ("success", JobStatus.success), ("Success", .success), ("SUCCESS", .success),
        ("FAILED", .failure), ("failed", .failure), ("FAIL", .failure),
    ])
    func finalStatusInAnyCase(word: String, expected: JobStatus) throws {
        let job = try #require(Self.decode(#"{"status": "\#(word)", "job_id": "j1"}"#))
        #expect(job.status == expected)
        #expect(job.status.isFinal)
        #expect(job.rawStatus == word)
        #expect(job.jobID == "j1")
    }

    @Test(arguments: [("INIT", JobStatus.initializing), ("RUNNING", .running), ("running", .running)])
    func runningStatusIsNotFinal(word: String, expected: JobStatus) throws {
        let job = try #require(Self.decode(#"{"status": "\#(word)", "end_time": ""}"#))
        #expect(job.status == expected)
        #expect(!job.status.isFinal)
        #expect(job.rawStatus == word)
    }

    @Test func unknownStatusIsKeptAndNotFinal() throws {
        let job = try #require(Self.decode(#"{"status": "QUEUED", "job_id": "j2"}"#))
        #expect(job.status == .unknown("QUEUED"))
        #expect(!job.status.isFinal)
        #expect(job.rawStatus == "QUEUED")
    }

    @Test(arguments: [#"{"job_id": "j3"}"#, #"{"job_id": "j3", "status": null}"#, #"{"job_id": "j3", "status": ""}"#])
    func missingStatus(body: String) throws {
        let job = try #require(Self.decode(body))
        #expect(job.status == .missing)
        #expect(!job.status.isFinal)
        #expect(job.rawStatus == nil)
        #expect(job.jobID == "j3")
    }

    @Test func entitiesAbsent() throws {
        let job = try #require(Self.decode(#"{"status": "SUCCESS", "job_id": "j4"}"#))
        #expect(job == Job(status: .success, rawStatus: "SUCCESS", jobID: "j4"))
        #expect(job.results == nil)
    }

    @Test func entitiesEmpty() throws {
        let job = try #require(Self.decode(#"{"status": "SUCCESS", "job_id": "j5", "entities": {}}"#))
        #expect(job == Job(status: .success, rawStatus: "SUCCESS", jobID: "j5"))
    }

    @Test func entitiesWithUnknownFields() throws {
        let body = """
            {"status": "FAIL", "entities": {"image_id": "d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1", "current_task": "share",
              "process_percent": 0.5, "sub_jobs_list": ["a", "b"], "vendor_extra": {"nested": [1, 2, {"x": null}]},
              "results": [{"image_id": "i1", "project_id": "p1", "status": "failed", "reason": "extra"}, "not-an-object", 7]}}
            """
        let job = try #require(Self.decode(body))
        #expect(job.status == .failure)
        #expect(job.results == [ImageMemberResult(imageID: "i1", projectID: "p1", status: "failed")])
        #expect(job.errorCode == nil)
        #expect(job.failReason == nil)
    }

    @Test func errorFromEntitiesWhenTopLevelIsAbsent() throws {
        let body = #"{"status": "FAIL", "entities": {"error_code": "IMG.0104", "error": "not shared"}}"#
        let job = try #require(Self.decode(body))
        #expect(job.errorCode == "IMG.0104")
        #expect(job.failReason == "not shared")
    }

    @Test func emptyEndTimeIsNil() throws {
        let job = try #require(Self.decode(#"{"status": "RUNNING", "begin_time": "2026-11-29T06:15:56Z", "end_time": ""}"#))
        #expect(job.beginTime == "2026-11-29T06:15:56Z")
        #expect(job.endTime == nil)
    }

    @Test func oddTimeStringsPassThrough() throws {
        let body = #"{"status": "SUCCESS", "begin_time": "04-Jun-2015 18:11:06:586", "end_time": "2015/06/04 18:11:08 UTC"}"#
        let job = try #require(Self.decode(body))
        #expect(job.beginTime == "04-Jun-2015 18:11:06:586")
        #expect(job.endTime == "2015/06/04 18:11:08 UTC")
    }

    @Test func numericErrorCodeReadsAsString() throws {
        let job = try #require(Self.decode(#"{"status": "FAIL", "error_code": 104, "fail_reason": "x"}"#))
        #expect(job.errorCode == "104")
        #expect(job.failReason == "x")
    }

    @Test func unknownTopLevelFieldsAreIgnored() throws {
        let body = #"{"status": "SUCCESS", "job_id": "j6", "foo": {"bar": [1, 2]}, "x": null, "flag": true, "n": 3.5}"#
        let job = try #require(Self.decode(body))
        #expect(job == Job(status: .success, rawStatus: "SUCCESS", jobID: "j6"))
    }

    @Test(arguments: [
        Array("[]".utf8), Array(#""x""#.utf8), Array("null".utf8), Array("42".utf8), Array("{".utf8),
        Array("<html>502 Bad Gateway</html>".utf8), [0xFF, 0xFE, 0x00, 0x7B], [],
    ])
    func nonObjectBodyIsNil(body: [UInt8]) {
        #expect(Job.decode(body) == nil)
    }

    @Test func showJobProgressShapeHasNoResults() throws {
        let body = """
            {"status": "SUCCESS", "job_id": "ff8080817d1b1a2b017d2c3d4e5f0003", "job_type": "imsUpdateImageMembersJob",
             "begin_time": "2026-11-29T06:15:56Z", "end_time": "2026-11-29T06:15:59Z", "error_code": null,
             "fail_reason": null, "entities": {"subJobId": "ff8080817d1b1a2b017d2c3d4e5f0004"}}
            """
        let job = try #require(Self.decode(body))
        #expect(
            job
                == Job(
                    status: .success, rawStatus: "SUCCESS", jobID: "ff8080817d1b1a2b017d2c3d4e5f0003",
                    jobType: "imsUpdateImageMembersJob", beginTime: "2026-11-29T06:15:56Z",
                    endTime: "2026-11-29T06:15:59Z"))
        #expect(job.results == nil)
    }

    @Test("a hostile upstream's megabyte fields are cut: short fields to 256 characters, fail_reason to 2048, results to 10,000")
    func oversizedFieldsAreCut() throws {
        let long = String(repeating: "Z", count: 300_000)
        let first = #"{"image_id": "\#(long)", "project_id": "p", "status": "success"}"#
        let results = ([first] + Array(repeating: #"{"image_id": "i"}"#, count: 10_000)).joined(separator: ",")
        let body = #"{"status": "\#(long)", "job_id": "\#(long)", "error_code": "\#(long)", "fail_reason": "\#(long)", "begin_time": "\#(long)", "entities": {"results": [\#(results)]}}"#
        let job = try #require(Job.decode(Array(body.utf8)))
        #expect(job.rawStatus?.count == 256)
        #expect(job.status == .unknown(String(repeating: "Z", count: 256)))
        #expect(job.jobID?.count == 256)
        #expect(job.errorCode?.count == 256)
        #expect(job.beginTime?.count == 256)
        #expect(job.failReason?.count == 2048)
        #expect(job.results?.count == 10_000)
        #expect(job.results?.first?.imageID?.count == 256)

        // The limits are characters, not bytes: 1,500 two-byte characters (3,000 bytes) stay whole.
        let accents = #"{"status": "FAIL", "fail_reason": "\#(String(repeating: "é", count: 1500))", "error_code": "\#(String(repeating: "é", count: 300))"}"#
        let multibyte = try #require(Job.decode(Array(accents.utf8)))
        #expect(multibyte.failReason == String(repeating: "é", count: 1500))
        #expect(multibyte.errorCode == String(repeating: "é", count: 256))
    }

    @Test("an error body's code and request id are cut to 256 characters")
    func oversizedErrorFieldsAreCut() {
        let long = String(repeating: "C", count: 100_000)
        let error = UpstreamError(
            httpStatus: 500, body: Array(#"{"error_code": "\#(long)", "error_msg": "m"}"#.utf8), requestID: long)
        #expect(error.code?.count == 256)
        #expect(error.requestID?.count == 256)
    }
}

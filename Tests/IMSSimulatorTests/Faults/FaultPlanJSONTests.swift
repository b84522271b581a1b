import Foundation
import IMSSimulator
import Testing

/// The fault plan's JSON form, without a server: what parses into what, and which errors name which field.
@Suite("fault plan JSON")
struct FaultPlanJSONTests {
    static let base = FaultPlan(jobDuration: .fixed(.seconds(2)), quota: Quota(calls: 100, windowSeconds: 10))

    static func parse(_ json: String) throws(SimulatorSettingError) -> FaultPlan {
        try FaultPlan(json: Array(json.utf8), over: base)
    }

    @Test("a full plan parses into the public model")
    func fullPlan() throws {
        let plan = try Self.parse(
            """
            {"job_duration": {"distribution": "uniform", "min_ms": 500, "max_ms": 4000, "seed": 7},
             "quota": {"calls": 5, "window_seconds": 60},
             "calls": [
               {"fault": "http_error", "operation": "ShowJob", "count": 3, "status": 503},
               {"fault": "close", "operation": "*", "reset": true},
               {"fault": "delay", "delay_ms": 250, "count": 1},
               {"fault": "malformed_json", "operation": "ShowJobProgress"},
               {"fault": "throttle", "retry_after": "http_date", "retry_after_seconds": 5}],
             "jobs": [
               {"fault": "duration", "duration_ms": 31000, "count": 1},
               {"fault": "stuck", "image_id": "d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1"},
               {"fault": "status_word", "status": "PAUSED", "phase": "running"},
               {"fault": "omit_field", "field": "entities", "polls": 2},
               {"fault": "not_found", "polls": 3}]}
            """)
        #expect(plan.jobDuration == .uniform(min: .milliseconds(500), max: .seconds(4), seed: 7))
        #expect(plan.quota == Quota(calls: 5, windowSeconds: 60))
        #expect(plan.calls == [
            CallFault(.httpError(status: 503, errorCode: "IMG.0503", message: "Service unavailable."), operation: "ShowJob", count: 3),
            CallFault(.close(reset: true)),
            CallFault(.delay(milliseconds: 250), count: 1),
            CallFault(.malformedJSON, operation: "ShowJobProgress"),
            CallFault(.throttle(retryAfter: .httpDate(secondsFromNow: 5))),
        ])
        #expect(plan.jobs == [
            JobFault(.duration(milliseconds: 31000), count: 1),
            JobFault(.stuck, imageID: "d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1"),
            JobFault(.statusWord("PAUSED", whileRunning: true)),
            JobFault(.omitField(.entities, polls: 2)),
            JobFault(.notFound(polls: 3)),
        ])
    }

    @Test("absent job_duration and quota keep the start-up values; null quota means none; {} clears the faults")
    func defaults() throws {
        let plan = try Self.parse(#"{"calls": [{"fault": "throttle"}]}"#)
        #expect(plan.jobDuration == Self.base.jobDuration)
        #expect(plan.quota == Self.base.quota)
        #expect(plan.calls == [CallFault(.throttle(retryAfter: .seconds(2)))])
        #expect(try Self.parse(#"{"quota": null}"#).quota == .unlimited)
        #expect(try Self.parse("{}") == Self.base)
    }

    @Test("errors name the field: unknown fields, wrong types, out-of-range values, unknown names")
    func errors() {
        let cases: [(String, String)] = [
            ("[]", "the body must be a JSON object"),
            ("nope", "the body is not JSON"),
            (#"{"fault": 1}"#, "fault is not a known field"),
            (#"{"calls": [{"fault": "explode"}]}"#, "calls[0].fault 'explode'"),
            (#"{"calls": [{"fault": "throttle", "count": 0}]}"#, "calls[0].count must be an integer, at least 1"),
            (#"{"calls": [{"fault": "throttle", "count": true}]}"#, "calls[0].count must be a number"),
            (#"{"calls": [{"fault": "http_error", "status": 200}]}"#, "calls[0].status must be an integer, at least 400"),
            (#"{"calls": [{"fault": "http_error"}]}"#, "calls[0].status is required"),
            (#"{"calls": [{"fault": "close", "reset": 1}]}"#, "calls[0].reset must be true or false"),
            (#"{"calls": [{"fault": "delay", "delay_ms": 5, "operation": "ListImages"}]}"#, "calls[0].operation 'ListImages'"),
            (#"{"calls": [{"fault": "throttle", "retry_after": "later"}]}"#, "calls[0].retry_after 'later'"),
            (#"{"jobs": [{}, {"fault": "omit_field", "field": "job_id"}]}"#, "jobs[0].fault is required"),
            (#"{"jobs": [{"fault": "omit_field", "field": "job_id"}]}"#, "jobs[0].field 'job_id'"),
            (#"{"jobs": [{"fault": "not_found"}]}"#, "jobs[0].polls is required"),
            (#"{"job_duration": {"distribution": "lognormal", "median_ms": 3000}}"#, "job_duration.sigma is required"),
            (#"{"job_duration": {"distribution": "uniform", "min_ms": 9, "max_ms": 1}}"#, "min_ms <= max_ms"),
            (#"{"quota": {"calls": 0}}"#, "quota.calls must be an integer, at least 1"),
        ]
        for (json, message) in cases {
            let error = #expect(throws: SimulatorSettingError.self, "\(json)") { try Self.parse(json) }
            #expect(error?.message.contains(message) == true, "\(json): \(error?.message ?? "")")
        }
    }
}

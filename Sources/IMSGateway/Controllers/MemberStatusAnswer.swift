import HTTPTypes
import Hummingbird

/// Turns the result of an accept/reject request into its HTTP answer (docs/ARCHITECTURE.md,
/// "Answer precedence"): 200 JSON; 502 and 504 problem details carrying the whole result; 202
/// for a stored request that is still running.
struct MemberStatusAnswer {
    /// The result to answer with.
    var result: MemberStatusResult
    /// The route, e.g. `/accept-images` (for the `GET .../{request_id}` hint).
    var route: String
    /// Headers every answer carries (`Preference-Applied`, `Idempotent-Replayed`).
    var headers: HTTPFields = [:]
    /// Seconds the caller waited (0 for a `GET`).
    var waitedSeconds: Int = 0
    /// Whether the drain cut the wait short.
    var cutByDrain = false
    /// Whether the gateway goes on waiting for pending jobs after this answer.
    var continuesInBackground = false
    /// `Retry-After` of a 504 or 202, in seconds.
    var retryAfterSeconds: Int
    /// `Retry-After` of a 429 (nothing submitted): seconds until IMS calls may go again.
    var throttledRetryAfterSeconds: Int = 1
    /// How long IMS told the gateway to wait, for a 429, when it did.
    var throttledRetryAfter: Duration?
    /// ``result`` already written as JSON (``MemberStatusResult/jsonUTF8``), if it was.
    var documentJSON: [UInt8]?

    /// A `GET` of a request still running: 202 with its current state.
    func running() -> Response {
        var fields = headers
        fields[ResponseFactory.retryAfterHeader] = "\(retryAfterSeconds)"
        var running = result
        running.outcome = .running
        return ResponseFactory.json(status: 202, utf8: running.jsonUTF8, headers: fields)
    }

    /// The answer for the result's status.
    func response() -> Response {
        var fields = headers
        switch result.httpStatus {
        case 200:
            return ResponseFactory.json(status: 200, utf8: documentJSON ?? result.jsonUTF8, headers: fields)
        case 502:
            var detail = "\(result.totals.failed + result.totals.submitFailed) of \(result.totals.batches) batch(es) failed; see batches[]"
            if result.batches.contains(where: { Self.authenticationCodes.contains($0.errorCode ?? "") }) {
                detail = "upstream authentication failed: IMS or IAM refused the gateway's own credentials; " + detail
            }
            let problem = ProblemDetails(
                slug: "batches-failed", title: "IMS jobs failed", status: 502, detail: detail, requestID: result.requestID)
            return ResponseFactory.json(status: 502, ProblemWithResult(problem: problem, result: result), problem: true, headers: fields)
        case 503:
            fields[ResponseFactory.retryAfterHeader] = "\(MemberStatusController.storeRetryAfterSeconds)"
            let problem = ProblemDetails(
                slug: "store-unavailable", title: "Store unavailable", status: 503,
                detail: "the gateway could not write its store, so no batch was sent to IMS (nothing sent is ever unrecorded); send it again after Retry-After",
                requestID: result.requestID)
            return ResponseFactory.json(status: 503, ProblemWithResult(problem: problem, result: result), problem: true, headers: fields)
        case 429:
            let paused = throttledRetryAfter.map(Self.wholeSecondsRoundedUp) ?? 0
            fields[ResponseFactory.retryAfterHeader] = "\(max(1, throttledRetryAfterSeconds, paused))"
            let reason = result.batches.first(where: { $0.failReason != nil })?.failReason ?? "the deadline came first"
            let problem = ProblemDetails(
                slug: "upstream-throttled", title: "IMS call budget exhausted", status: 429,
                detail: "no batch could be submitted to IMS before the deadline (\(reason)); nothing was changed; send it again after Retry-After",
                requestID: result.requestID)
            return ResponseFactory.json(status: 429, ProblemWithResult(problem: problem, result: result), problem: true, headers: fields)
        default:
            fields[ResponseFactory.retryAfterHeader] = "\(retryAfterSeconds)"
            let totals = result.totals
            var detail: String
            if cutByDrain {
                detail = "the gateway is shutting down and its drain timeout passed: \(totals.pending) batch(es) still pending and \(totals.notSubmitted) not submitted; job ids are in batches[]"
            } else if waitedSeconds > 0 {
                detail = "\(totals.pending) batch(es) still pending and \(totals.notSubmitted) not submitted after \(waitedSeconds) s; job ids are in batches[]"
            } else {
                detail = "the gateway stopped waiting: \(totals.pending) batch(es) still pending and \(totals.notSubmitted) not submitted; job ids are in batches[]"
            }
            if continuesInBackground {
                detail += "; the gateway goes on waiting for them: GET \(route)/\(result.requestID), or send the request again with the same Idempotency-Key, for the final outcome"
            }
            let problem = ProblemDetails(
                slug: "deadline-passed", title: "Deadline passed", status: result.httpStatus, detail: detail,
                requestID: result.requestID)
            return ResponseFactory.json(
                status: result.httpStatus, ProblemWithResult(problem: problem, result: result), problem: true, headers: fields)
        }
    }

    /// Whole seconds in `duration`, rounded up.
    static func wholeSecondsRoundedUp(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) + (attoseconds > 0 ? 1 : 0)
    }

    /// Batch error codes that mean the gateway's upstream credentials were refused.
    static let authenticationCodes: Set<String> = [
        "upstream.authentication_failed", "APIGW.0301", "APIGW.0307", "APIG.0301", "APIG.0307",
    ]
}

import Foundation
import HTTPTypes
import Hummingbird
import IMSClient
import Logging
import NIOCore

/// `POST /accept-images` and `POST /reject-images`: validate, split into batches, submit one
/// IMS job per batch, wait for all of them and answer once (DESIGN.md section 2). While the
/// gateway drains, new requests are refused with 503 and running ones end by the drain deadline.
struct MemberStatusController {
    let configuration: GatewayConfiguration
    let planner: BatchPlanner
    let executor: PlanExecutor
    let drain: DrainController
    let logger: Logger

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.post("/accept-images") { request, context in
            try await handle(request, requestID: context.requestID, memberStatus: .accepted, route: "/accept-images")
        }
        router.post("/reject-images") { request, context in
            try await handle(request, requestID: context.requestID, memberStatus: .rejected, route: "/reject-images")
        }
    }

    private func handle(
        _ request: Request, requestID: String, memberStatus: MemberStatus, route: String
    ) async throws -> Response {
        let started = ContinuousClock.now

        switch drain.admit(limit: configuration.maxCallersWaiting) {
        case .admitted:
            break
        case .draining:
            var problem = refused(
                503, "draining", "Shutting down",
                "the gateway is shutting down and takes no new requests; send it again (another instance will answer it)",
                requestID, route)
            problem.headers[ResponseFactory.retryAfterHeader] = "\(Self.drainingRetryAfterSeconds)"
            throw problem
        case .full:
            var problem = refused(
                503, "too-many-callers", "Too many callers waiting",
                "\(configuration.maxCallersWaiting) callers are already waiting; send it again shortly", requestID, route)
            problem.headers[ResponseFactory.retryAfterHeader] = "1"
            throw problem
        }
        defer { drain.finish() }

        guard Self.isJSON(request.headers[.contentType]) else {
            throw refused(415, "unsupported-media-type", "Unsupported media type", "send the body as application/json", requestID, route)
        }
        if let encoding = request.headers[.contentEncoding], encoding.lowercased() != "identity" {
            throw refused(415, "unsupported-media-type", "Unsupported media type", "send the body without Content-Encoding", requestID, route)
        }
        let tooLarge = "the body is larger than \(configuration.maxBodyBytes) bytes"
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > configuration.maxBodyBytes {
            throw refused(413, "body-too-large", "Request body too large", tooLarge, requestID, route)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: configuration.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw refused(413, "body-too-large", "Request body too large", tooLarge, requestID, route)
        }
        let plan: MemberStatusPlan
        switch planner.plan(body: Array(body.readableBytesView), memberStatus: memberStatus) {
        case .success(let value):
            plan = value
        case .failure(let invalid):
            var problem = refused(
                400, "invalid-request", "Invalid request body",
                "\(invalid.errors.count) field(s) are invalid; nothing was sent to IMS", requestID, route)
            // A hostile body can name thousands of bad fields; the answer stays small.
            problem.problem.errors = Array(invalid.errors.prefix(Self.maxFieldErrors))
            if invalid.errors.count > Self.maxFieldErrors {
                problem.problem.detail += " (the first \(Self.maxFieldErrors) are listed)"
            }
            throw problem
        }

        let wait = WaitPreference(
            header: request.headers[ResponseFactory.preferHeader], defaultSeconds: configuration.defaultWaitSeconds,
            maxSeconds: configuration.maxWaitSeconds)
        let deadline = started.advanced(by: .seconds(wait.seconds))
        let batches = await executor.execute(plan, deadline: deadline, requestID: requestID)
        let elapsed = started.duration(to: .now)
        let result = MemberStatusResult(requestID: requestID, plan: plan, batches: batches, elapsedMs: elapsed.wholeMilliseconds)
        log(result, route: route)

        var headers: HTTPFields = [:]
        if wait.requested { headers[ResponseFactory.preferenceAppliedHeader] = "wait=\(wait.seconds)" }
        switch result.httpStatus {
        case 200:
            return ResponseFactory.json(status: 200, result, headers: headers)
        case 502:
            var detail = "\(result.totals.failed + result.totals.submitFailed) of \(result.totals.batches) batch(es) failed; see batches[]"
            if result.batches.contains(where: { Self.authenticationCodes.contains($0.errorCode ?? "") }) {
                detail = "upstream authentication failed: IMS or IAM refused the gateway's own credentials; " + detail
            }
            let problem = ProblemDetails(
                slug: "batches-failed", title: "IMS jobs failed", status: 502, detail: detail, requestID: requestID)
            return ResponseFactory.json(status: 502, ProblemWithResult(problem: problem, result: result), problem: true, headers: headers)
        default:
            headers[ResponseFactory.retryAfterHeader] = "\(configuration.pollSchedule.maxDelay.components.seconds)"
            var detail = "\(result.totals.pending) batch(es) still pending and \(result.totals.notSubmitted) not submitted after \(wait.seconds) s; job ids are in batches[]"
            if drain.effectiveDeadline(deadline) < deadline {
                detail = "the gateway is shutting down and its drain timeout passed: \(result.totals.pending) batch(es) still pending and \(result.totals.notSubmitted) not submitted; job ids are in batches[]"
            }
            let problem = ProblemDetails(
                slug: "deadline-passed", title: "Deadline passed", status: result.httpStatus, detail: detail,
                requestID: requestID)
            return ResponseFactory.json(
                status: result.httpStatus, ProblemWithResult(problem: problem, result: result), problem: true, headers: headers)
        }
    }

    /// Batch error codes that mean the gateway's upstream credentials were refused.
    static let authenticationCodes: Set<String> = [
        "upstream.authentication_failed", "APIGW.0301", "APIGW.0307", "APIG.0301", "APIG.0307",
    ]

    /// `Retry-After` of a request refused while draining, in seconds: by then another instance
    /// (or this one's replacement) takes it.
    static let drainingRetryAfterSeconds = 2

    /// Most entries of `errors[]` in a 400 answer.
    static let maxFieldErrors = 100

    /// A refusal before any upstream call, logged with its status.
    private func refused(
        _ status: Int, _ slug: String, _ title: String, _ detail: String, _ requestID: String, _ route: String
    ) -> GatewayProblem {
        logger.info(
            "request refused",
            metadata: ["request_id": "\(requestID)", "route": "\(route)", "status": "\(status)", "detail": "\(detail)"])
        return GatewayProblem(ProblemDetails(slug: slug, title: title, status: status, detail: detail, requestID: requestID))
    }

    /// One line per request and one audit line per batch.
    private func log(_ result: MemberStatusResult, route: String) {
        for batch in result.batches {
            logger.info(
                "batch",
                metadata: [
                    "audit": "true", "request_id": "\(result.requestID)", "project_id": "\(result.projectID)",
                    "member_status": "\(result.memberStatus.rawValue)", "batch": "\(batch.index)",
                    "images": "\(batch.images.joined(separator: ","))", "job_id": "\(batch.jobID ?? "-")",
                    "state": "\(batch.state.rawValue)",
                ])
        }
        logger.info(
            "request",
            metadata: [
                "request_id": "\(result.requestID)", "route": "\(route)", "project_id": "\(result.projectID)",
                "images": "\(result.totals.images)", "batches": "\(result.totals.batches)",
                "outcome": "\(result.outcome.rawValue)", "status": "\(result.httpStatus)", "elapsed_ms": "\(result.elapsedMs)",
            ])
    }

    /// `application/json` or any `+json` type, parameters ignored.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let type = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
    }
}

/// The id of a request: the caller's `X-Request-Id` when it is short and plain, else a new one.
enum RequestIdentifier {
    static func from(_ header: String?) -> String {
        if let header, (1...128).contains(header.utf8.count),
            header.utf8.allSatisfy({ byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            })
        {
            return header
        }
        return UUID().uuidString.lowercased()
    }
}

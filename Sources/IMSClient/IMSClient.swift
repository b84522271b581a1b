import CurlHTTP
import Foundation
import Logging
import Synchronization

/// The IMS calls the gateway makes (``IMSJobs``, and the readiness probe), over the project's
/// libcurl client, authenticated by a ``CredentialProvider``. Its API shows no type of the HTTP
/// library but the client its initializer takes: requests are ``UpstreamRequest``s until they
/// are sent, and a failed transfer is an ``UpstreamTransportError``.
///
/// A 401 (APIGW.0301 / APIGW.0307) drops the credentials used, obtains new ones and replays the
/// request once; a second refusal is ``IMSClientError/authentication(_:)``, never a loop (IAM
/// and the API gateway lock identities after repeated failures).
///
/// Every call takes a token of the account's ``UpstreamLimiter`` first (in its fair order:
/// round robin over clients, then ``UpstreamPriority``) within the caller's time limit; each
/// transfer is also bounded by the configured per-call timeout. A 429 (APIGW.0308) pauses the
/// limiter for the answer's `Retry-After` (seconds or HTTP-date, cut to
/// ``IMSClientConfiguration/maxPauseSeconds`` with a warning; missing, unparsable or under
/// 1 s: 1 s doubling with each 429 in a row up to 60 s, ±20 % jitter) and the call is sent
/// again after the pause, at most
/// ``maxThrottledResends`` times and as long as it fits in its time limit; otherwise it ends
/// with ``IMSClientError/throttled(last:retryAfter:)``. A submit is not sent with less than
/// ``minimumSubmitMilliseconds`` left.
public final class IMSClient: IMSJobs {
    /// Where IMS is and the limits of each call.
    public let configuration: IMSClientConfiguration
    private let http: CurlHTTPClient
    private let credentials: any CredentialProvider
    private let logger: Logger
    private let metrics: UpstreamMetrics
    private let limiter: UpstreamLimiter<ContinuousClock>?
    /// 429 answers in a row without a `Retry-After`, for the backoff.
    private let throttledInARow = Mutex(0)
    /// The last pause a 429 set, for `/readyz` and the metrics.
    private let lastPause = Mutex<UpstreamPause?>(nil)

    /// - Parameters:
    ///   - configuration: endpoint and limits.
    ///   - http: the client every call goes through.
    ///   - credentials: adds `X-Auth-Token` (or a signature) to each request.
    ///   - logger: upstream calls are logged at debug level with IMS's `X-Request-Id`.
    ///   - metrics: where each call is counted and timed.
    ///   - limiter: the account's IMS call budget; nil sends every call at once (a 429 still
    ///     pauses the call that got it).
    public init(
        configuration: IMSClientConfiguration,
        http: CurlHTTPClient,
        credentials: any CredentialProvider,
        logger: Logger = Logger(label: "ims-gateway.ims"),
        metrics: UpstreamMetrics = .disabled,
        limiter: UpstreamLimiter<ContinuousClock>? = nil
    ) {
        self.configuration = configuration
        self.http = http
        self.credentials = credentials
        self.logger = logger
        self.metrics = metrics
        self.limiter = limiter
    }


    /// Submits one BatchUpdateMembers job (``IMSJobs/submit(_:deadline:correlationID:caller:)``,
    /// `PUT /v1/cloudimages/members`, doc ims_03_0625).
    ///
    /// The time left until `deadline` (at least 1 ms) bounds the wait for a budget token, and
    /// each transfer's total timeout is that time left, never above
    /// ``IMSClientConfiguration/timeoutMilliseconds``. Not sent with less than
    /// ``minimumSubmitMilliseconds`` left.
    /// - Parameters:
    ///   - body: the images, project, status and optional vault.
    ///   - deadline: when the caller stops waiting.
    ///   - correlationID: sent as `X-Request-Id` so that IMS-side logs can be matched, or nil.
    ///   - caller: the client the job is for (its share of the call budget).
    /// - Returns: the `job_id` IMS answered.
    /// - Throws: ``IMSClientError``; `mayHaveReachedServer` tells whether a job may exist anyway.
    public func submit(
        _ body: BatchUpdateMembersRequest, deadline: ContinuousClock.Instant, correlationID: String?,
        caller: UpstreamCaller
    ) async throws(IMSClientError) -> String {
        let request = UpstreamRequest(
            method: "PUT", url: configuration.imsBaseURL + "/v1/cloudimages/members",
            headers: Self.headers(contentType: "application/json;charset=UTF-8", requestID: correlationID),
            body: body.jsonBytes())
        let response = try await send(
            request, projectID: body.projectID, operation: "BatchUpdateMembers", priority: .submit, caller: caller,
            deadline: deadline)
        guard let jobID = LenientJSON.object(response.body).flatMap({ LenientJSON.string($0["job_id"]) }) else {
            throw IMSClientError.malformedResponse(
                operation: "BatchUpdateMembers", httpStatus: response.status, detail: "no job_id in the answer")
        }
        return jobID
    }

    /// Reads a job (``IMSJobs/showJob(projectID:jobID:deadline:correlationID:priority:caller:)``:
    /// ShowJob `GET /v1/{project_id}/jobs/{job_id}`, or ShowJobProgress
    /// `GET /v1/cloudimages/job/{job_id}` when configured).
    ///
    /// The time left until `deadline` (at least 1 ms) bounds the wait for a budget token, and
    /// each transfer's total timeout is that time left, never above
    /// ``IMSClientConfiguration/timeoutMilliseconds``.
    /// - Parameters:
    ///   - projectID: the project the job was submitted for (32 hex characters).
    ///   - jobID: the job id; percent-encoded into the path.
    ///   - deadline: when the caller stops waiting.
    ///   - correlationID: sent as `X-Request-Id`, or nil.
    ///   - priority: its place among the caller's calls in the budget's queue (`.poll` while a
    ///     connected caller waits on the job, `.backgroundPoll` after it was answered).
    ///   - caller: the client the job is for (its share of the call budget).
    /// - Throws: ``IMSClientError``; a body that is not a JSON object is `malformedResponse`.
    public func showJob(
        projectID: String, jobID: String, deadline: ContinuousClock.Instant, correlationID: String?,
        priority: UpstreamPriority, caller: UpstreamCaller
    ) async throws(IMSClientError) -> Job {
        let escaped = PathSegment.escape(jobID)
        let path: String
        let operation: String
        switch configuration.jobQuery {
        case .showJob:
            path = "/v1/\(PathSegment.escape(projectID))/jobs/\(escaped)"
            operation = "ShowJob"
        case .showJobProgress:
            path = "/v1/cloudimages/job/\(escaped)"
            operation = "ShowJobProgress"
        }
        let request = UpstreamRequest(
            method: "GET", url: configuration.imsBaseURL + path,
            headers: Self.headers(contentType: "application/json", requestID: correlationID))
        let response = try await send(
            request, projectID: projectID, operation: operation, priority: priority, caller: caller,
            deadline: deadline)
        guard let job = Job.decode(response.body) else {
            throw IMSClientError.malformedResponse(
                operation: operation, httpStatus: response.status, detail: "the body is not a JSON object")
        }
        return job
    }

    /// Proves that IMS accepts the gateway's credentials for `projectID`, at the cost of one
    /// ShowJob of a job id that cannot exist: 404 means the token or signature was accepted.
    /// With password credentials this also obtains (and caches) the project's token.
    /// - Throws: ``IMSClientError``: `authentication` when IMS or IAM refuse the credentials,
    ///   `transport` or `upstream` when IMS cannot tell.
    public func proveCredentials(projectID: String) async throws(IMSClientError) {
        do {
            _ = try await showJob(
                projectID: projectID, jobID: Self.probeJobID,
                deadline: .now.advanced(by: .milliseconds(configuration.timeoutMilliseconds)), correlationID: nil,
                priority: .submit, caller: .gateway)
        } catch .upstream(let error) where error.httpStatus == 404 {
            return
        }
    }

    private static func headers(contentType: String, requestID: String?) -> [(name: String, value: String)] {
        var headers = [(name: "Content-Type", value: contentType)]
        if let requestID { headers.append((name: "X-Request-Id", value: requestID)) }
        return headers
    }

    /// The made-up job id readiness probes ask for.
    public static let probeJobID = "ims-gateway-readiness-probe"

    /// Takes a budget token, authorizes and sends `request`; on a 401 refreshes the credentials
    /// and replays once; on a 429 pauses the budget and sends again within the time limit.
    private func send(
        _ request: UpstreamRequest, projectID: String, operation: String, priority: UpstreamPriority,
        caller: UpstreamCaller, deadline callerDeadline: ContinuousClock.Instant
    ) async throws(IMSClientError) -> CurlHTTPResponse {
        // The caller's deadline (at least 1 ms away) bounds the wait for a budget token; each
        // transfer is also bounded by the configured per-call timeout.
        let deadline = max(callerDeadline, ContinuousClock.now.advanced(by: .milliseconds(1)))
        var attempt = 0
        var throttledAnswers = 0
        var lastThrottle: UpstreamError?
        while true {
            if let limiter {
                do throws(UpstreamLimiter<ContinuousClock>.Refusal) {
                    try await limiter.acquire(priority: priority, caller: caller, deadline: deadline)
                } catch {
                    let retryAfter = limiter.pausedUntil.map { ContinuousClock.now.duration(to: $0) }
                    throw IMSClientError.throttled(last: lastThrottle, retryAfter: retryAfter)
                }
            }
            let left = ContinuousClock.now.duration(to: deadline).wholeMilliseconds
            // A submit sent with almost no time left would change members without the caller
            // learning its job id: not sent then.
            let minimum = priority == .submit ? Self.minimumSubmitMilliseconds : 1
            guard left >= minimum else { throw IMSClientError.throttled(last: lastThrottle, retryAfter: nil) }
            attempt += 1
            var authorized = request
            try await credentials.authorize(&authorized, projectID: projectID)
            let response: CurlHTTPResponse
            let started = ContinuousClock.now
            do throws(CurlHTTPError) {
                response = try await http.execute(authorized.curlRequest(
                    timeoutMilliseconds: min(left, configuration.timeoutMilliseconds),
                    connectTimeoutMilliseconds: configuration.connectTimeoutMilliseconds,
                    maxResponseBodyBytes: configuration.maxResponseBodyBytes))
            } catch {
                metrics.call(operation: operation, status: "transport_\(error.code.rawValue)", duration: started.duration(to: .now))
                logger.debug("IMS call failed", metadata: ["operation": "\(operation)", "error": "\(error)"])
                throw IMSClientError.transport(UpstreamTransportError(error, service: "IMS"))
            }
            metrics.call(operation: operation, status: "\(response.status)", duration: started.duration(to: .now))
            // Upstream text: cut, so that a hostile header cannot make kilobyte log lines.
            let requestID = response.header("X-Request-Id").map { String($0.prefix(Job.maxShortFieldCharacters)) }
            logger.debug(
                "IMS call", metadata: ["operation": "\(operation)", "status": "\(response.status)", "ims_request_id": "\(requestID ?? "-")"])
            if response.status != 401 { await credentials.accepted(authorized, projectID: projectID) }
            if (200..<300).contains(response.status) {
                throttledInARow.withLock { $0 = 0 }
                return response
            }
            let error = UpstreamError(
                httpStatus: response.status, body: response.body, requestID: requestID,
                retryAfter: response.header("Retry-After"))
            if error.isAuthenticationFailure {
                await credentials.invalidate(authorized, projectID: projectID, error: error)
                if attempt == 1 { continue }
                throw IMSClientError.authentication(error)
            }
            if error.isThrottled {
                throttledAnswers += 1
                let pause = pauseAfterThrottle(error, operation: operation)
                let resume = ContinuousClock.now.advanced(by: pause)
                limiter?.pause(until: resume)
                lastThrottle = error
                lastPause.withLock { last in
                    if last.map({ $0.until < resume }) ?? true {
                        last = UpstreamPause(until: resume, requested: error.retryAfter)
                    }
                }
                metrics.pause(duration: pause)
                logger.notice(
                    "IMS throttled the account; calls paused",
                    metadata: ["operation": "\(operation)", "pause_ms": "\(pause.wholeMilliseconds)", "ims_request_id": "\(requestID ?? "-")"])
                guard resume < deadline, throttledAnswers <= Self.maxThrottledResends else {
                    throw IMSClientError.throttled(last: error, retryAfter: pause)
                }
                if limiter == nil {
                    let throttle = error
                    do {
                        try await Task.sleep(until: resume, tolerance: nil, clock: .continuous)
                    } catch {
                        throw IMSClientError.throttled(last: throttle, retryAfter: pause)
                    }
                }
                continue
            }
            throw IMSClientError.upstream(error)
        }
    }

    /// Least time left for a submit to be sent, in milliseconds.
    public static let minimumSubmitMilliseconds = 250

    /// Most times one call is sent again after a 429 (each after its pause).
    public static let maxThrottledResends = 3

    /// The pause a 429 set last, while it lasts; nil when no pause is in force.
    public var pause: UpstreamPause? {
        lastPause.withLock { last in
            guard let pause = last, pause.until > .now else { return nil }
            return pause
        }
    }

    /// How long to pause after `error` (a 429): its `Retry-After` when it asks for 1 s or more,
    /// cut to ``IMSClientConfiguration/maxPauseSeconds`` (logged at warning with what IMS
    /// sent), else 1 s doubling with each 429 in a row, up to 60 s (and the cap), spread by
    /// ±20 % (a `Retry-After` of 0 or in the past must not turn into a stream of calls).
    private func pauseAfterThrottle(_ error: UpstreamError, operation: String) -> Duration {
        let cap = Duration.seconds(configuration.maxPauseSeconds)
        if let retryAfter = RetryAfter.delay(error.retryAfter), retryAfter >= .seconds(1) {
            throttledInARow.withLock { $0 = 0 }
            guard retryAfter <= cap else {
                logger.warning(
                    "IMS asked for a pause longer than upstream.maxPauseSeconds; pausing for the maximum",
                    metadata: [
                        "operation": "\(operation)", "retry_after": "\(Self.quoted(error.retryAfter ?? ""))",
                        "pause_s": "\(configuration.maxPauseSeconds)",
                    ])
                return cap
            }
            return retryAfter
        }
        let inARow = throttledInARow.withLock { count -> Int in
            count += 1
            return count
        }
        let base = min(60.0, pow(2.0, Double(min(inARow - 1, 6))))
        return min(cap, .milliseconds(Int64(base * Double.random(in: 0.8...1.2) * 1000)))
    }

    /// At most 128 characters of an upstream header, for a log line.
    private static func quoted(_ value: String) -> String {
        value.count > 128 ? String(value.prefix(128)) + "..." : value
    }
}

/// Percent-encoding of one URL path segment (RFC 3986 unreserved characters kept).
enum PathSegment {
    static func escape(_ segment: String) -> String {
        // "." and ".." are dot segments that URL normalisation would remove.
        if segment == "." || segment == ".." { return String(repeating: "%2E", count: segment.count) }
        // A project id or a job id: nothing to escape, nothing to copy.
        if segment.utf8.allSatisfy(isUnreserved) { return segment }
        var output = ""
        for byte in segment.utf8 {
            if isUnreserved(byte) {
                output.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                output += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return output
    }

    /// RFC 3986 section 2.3: `A-Z a-z 0-9 - . _ ~`.
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}

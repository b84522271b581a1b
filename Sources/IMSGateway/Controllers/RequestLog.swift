import IMSClient
import Logging

/// The log lines of accept/reject requests: one per request and one audit line per batch
/// (who set which member status on which images, with which job, and how it ended).
struct RequestLog: Sendable {
    let logger: Logger

    /// How the answer relates to the work behind it.
    enum Source: String {
        /// The request ran its own batches.
        case submitted
        /// A repeat (same `Idempotency-Key`) waited on or replayed an earlier request.
        case repeated
        /// The background wait after a 504 ended.
        case background
    }

    /// One audit line per batch (unless `source` is `repeated`: the request that did the work
    /// writes them), then the request line.
    /// - Parameter correlationID: the caller's `X-Request-Id` (logged when it is not the
    ///   request id itself).
    func answered(
        _ result: MemberStatusResult, status: Int, client: String, route: String, source: Source, requestID: String,
        correlationID: String? = nil
    ) {
        if source != .repeated {
            for batch in result.batches {
                logger.info(
                    "batch",
                    metadata: [
                        "audit": "true", "request_id": "\(result.requestID)", "client": "\(client)",
                        "project_id": "\(result.projectID)", "member_status": "\(result.memberStatus.rawValue)",
                        "batch": "\(batch.index)", "images": "\(batch.images.joined(separator: ","))",
                        "job_id": "\(batch.jobID ?? "-")", "state": "\(batch.state.rawValue)",
                        "background": "\(source == .background)",
                    ])
            }
        }
        guard source != .background else { return }
        var metadata: Logger.Metadata = [
            "request_id": "\(requestID)", "client": "\(client)", "route": "\(route)", "project_id": "\(result.projectID)",
            "images": "\(result.totals.images)", "batches": "\(result.totals.batches)",
            "outcome": "\(result.outcome.rawValue)", "status": "\(status)", "elapsed_ms": "\(result.elapsedMs)",
        ]
        if source == .repeated { metadata["repeat_of"] = "\(result.requestID)" }
        if let correlationID, correlationID != requestID { metadata["correlation_id"] = "\(correlationID)" }
        logger.info("request", metadata: metadata)
    }

    /// A request refused before any upstream call.
    func refused(status: Int, detail: String, client: String?, route: String, requestID: String) {
        var metadata: Logger.Metadata = [
            "request_id": "\(requestID)", "route": "\(route)", "status": "\(status)", "detail": "\(detail)",
        ]
        if let client { metadata["client"] = "\(client)" }
        logger.info("request refused", metadata: metadata)
    }
}

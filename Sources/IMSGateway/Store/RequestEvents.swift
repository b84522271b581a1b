import Foundation
import GatewayStore

/// The events appended to a request's log in the store, one per transition
/// (docs/ARCHITECTURE.md, "State and recovery"): `admitted`, `batch` (a job id received) and
/// `result` (where the request ended). Their data is JSON.
enum RequestEvents {
    /// The request was stored: its id and its batches' images.
    static func admitted(_ request: StoredRequest) -> NewEvent {
        NewEvent(kind: "admitted", data: json([
            "request_id": request.requestID,
            "batches": request.plan.batches.enumerated().map { ["index": $0.offset, "images": $0.element] as [String: Any] },
        ]))
    }

    /// A batch got its job id.
    static func submitted(index: Int, jobID: String, submitAttempts: Int) -> NewEvent {
        NewEvent(kind: "batch", data: json([
            "index": index, "job_id": jobID, "state": "pending", "submit_attempts": submitAttempts,
        ]))
    }

    /// The request ended (or gave up): its outcome and HTTP status.
    static func result(_ result: MemberStatusResult, state: RequestState) -> NewEvent {
        NewEvent(kind: "result", data: json([
            "request_id": result.requestID, "outcome": result.outcome.rawValue, "status": result.httpStatus,
            "state": state.rawValue,
        ]))
    }

    private static func json(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

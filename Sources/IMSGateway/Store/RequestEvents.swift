import GatewayStore

/// The events appended to a request's log in the store, one per transition
/// (docs/ARCHITECTURE.md, "State and recovery"): `admitted`, `batch` (a job id received) and
/// `result` (where the request ended). Their data is a compact JSON object with its keys in
/// sorted order, written by ``JSONObjectWriter``.
enum RequestEvents {
    /// The request was stored: its id and its batches' images.
    /// `{"batches":[{"images":[...],"index":0},...],"request_id":"..."}`
    static func admitted(_ request: StoredRequest) -> NewEvent {
        var data = JSONObjectWriter()
        data.add("batches", request.plan.batches.enumerated().map { index, images in
            var batch = JSONObjectWriter()
            batch.add("images", images)
            batch.add("index", index)
            return batch
        })
        data.add("request_id", request.requestID)
        return NewEvent(kind: "admitted", data: data.text)
    }

    /// A batch got its job id.
    /// `{"index":0,"job_id":"...","state":"pending","submit_attempts":1}`
    static func submitted(index: Int, jobID: String, submitAttempts: Int) -> NewEvent {
        var data = JSONObjectWriter()
        data.add("index", index)
        data.add("job_id", jobID)
        data.add("state", "pending")
        data.add("submit_attempts", submitAttempts)
        return NewEvent(kind: "batch", data: data.text)
    }

    /// The request ended (or gave up): its outcome and HTTP status.
    /// `{"outcome":"accepted","request_id":"...","state":"final","status":200}`
    static func result(_ result: MemberStatusResult, state: RequestState) -> NewEvent {
        var data = JSONObjectWriter()
        data.add("outcome", result.outcome.rawValue)
        data.add("request_id", result.requestID)
        data.add("state", state.rawValue)
        data.add("status", result.httpStatus)
        return NewEvent(kind: "result", data: data.text)
    }
}

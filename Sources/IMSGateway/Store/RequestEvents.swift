import GatewayStore
import IMSClient
import JSONText

/// The events appended to a request's log in the store, one per transition
/// (docs/ARCHITECTURE.md, "Progress events"), which `GET .../{request_id}/events` serves as
/// Server-Sent Events: `admitted` (first), `batch` (a batch got its job id, a new job status
/// word, or ended) and `result` (where the request ended). Their data is a compact JSON object
/// with its keys in sorted order, written by ``JSONObjectWriter``; openapi.yaml has their
/// schemas (`AdmittedEvent`, `BatchEvent`, `ResultEvent`).
enum RequestEvents {
    /// The request was stored: its id, where its events are, and its batches, all queued.
    /// `{"batches":[{"images":[...],"index":0,"state":"queued"},...],"events_url":"/accept-images/ID/events",`
    /// `"member_status":"accepted","project_id":"...","request_id":"..."}`
    static func admitted(_ request: StoredRequest) -> NewEvent {
        var data = JSONObjectWriter()
        data.add("batches", request.plan.batches.enumerated().map { index, images in
            var batch = JSONObjectWriter()
            batch.add("images", images)
            batch.add("index", index)
            batch.add("state", BatchState.queued.rawValue)
            return batch
        })
        data.add("events_url", eventsURL(route: request.route, requestID: request.requestID))
        data.add("member_status", request.plan.memberStatus.rawValue)
        data.add("project_id", request.plan.projectID)
        data.add("request_id", request.requestID)
        return NewEvent(kind: "admitted", data: data.text)
    }

    /// A batch changed: the batch as the answer document shows it (`index`, `images`,
    /// `job_id`, `job_status`, `state`, `submit_attempts`, `polls`, `error_code`,
    /// `fail_reason`, times and per-image results when known).
    static func batch(_ batch: BatchResult) -> NewEvent {
        NewEvent(kind: "batch", data: batch.jsonObject.text)
    }

    /// The request ended (or gave up): the HTTP status the synchronous call gets, the stored
    /// state and the whole answer document.
    /// `{"document":{...},"state":"final","status":200}`; `json` is the document's
    /// ``MemberStatusResult/jsonUTF8`` when the caller already has it.
    static func result(_ result: MemberStatusResult, json: [UInt8]? = nil, state: RequestState) -> NewEvent {
        let document = json ?? result.jsonUTF8
        var data = JSONObjectWriter(capacity: document.count + 64)
        data.addJSON("document", document)
        data.add("state", state.rawValue)
        data.add("status", result.httpStatus)
        return NewEvent(kind: "result", data: data.text)
    }

    /// `GET` path of a request's events: `ROUTE/REQUEST_ID/events`.
    static func eventsURL(route: String, requestID: String) -> String {
        "\(route)/\(requestID)/events"
    }
}

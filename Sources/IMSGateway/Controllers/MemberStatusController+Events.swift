import Foundation
import GatewayStore
import HTTPTypes
import IMSClient
import Hummingbird
import JSONText

/// Progress as Server-Sent Events (docs/ARCHITECTURE.md, "Progress events"):
/// `GET <route>/{request_id}/events` (resumed after `Last-Event-ID`) and `POST <route>` with
/// `Accept: text/event-stream`.
extension MemberStatusController {
    static let lastEventIDHeader = HTTPField.Name("Last-Event-ID")!

    /// The stored request `{request_id}` of the calling client at `route`.
    /// - Throws: ``GatewayProblem`` 404 (unknown to this client at this route), 403 (its
    ///   project is no longer allowed to the client), 503 (the store cannot be read).
    func known(context: GatewayRequestContext, route: String) async throws -> KnownRequest {
        let requestID = context.parameters.get("requestID") ?? ""
        let clientName = context.client?.name ?? "-"
        let memberStatus: MemberStatus = route == "/accept-images" ? .accepted : .rejected
        let found: KnownRequest?
        do throws(StoreError) {
            found = try await registry.find(client: clientName, memberStatus: memberStatus, requestID: requestID)
        } catch {
            var problem = GatewayProblem(
                ProblemDetails(
                    slug: "store-unavailable", title: "Store unavailable", status: 503,
                    detail: "the gateway cannot read its store (\(error.kind.rawValue); the log has the details); ask again shortly",
                    requestID: context.requestID))
            problem.headers[ResponseFactory.retryAfterHeader] = "\(Self.storeRetryAfterSeconds)"
            throw problem
        }
        guard let found else {
            let shown = InputExcerpt.of(requestID)
            throw GatewayProblem(
                ProblemDetails(
                    slug: "not-found", title: "Not Found", status: 404,
                    detail: "no request \(shown) of this client is stored at \(route) (outcomes are kept \(configuration.outcomeTTLSeconds) s)",
                    requestID: context.requestID))
        }
        // The clients file (or the browser token) may not allow the project.
        let stored = found.request
        guard context.client?.allows(projectID: stored.plan.projectID) == true else {
            metrics.clientAuthFailure(reason: "project_not_allowed")
            throw GatewayProblem(
                ProblemDetails(
                    slug: "project-not-allowed", title: "Project not allowed", status: 403,
                    detail: "client \(clientName) may not use project \(stored.plan.projectID)",
                    requestID: context.requestID))
        }
        return found
    }

    /// `GET <route>/{request_id}/events`: the request's events after `Last-Event-ID` (all
    /// without it), then each new one as it is stored, until `result`.
    /// - Throws: ``GatewayProblem`` as ``known(context:route:)``; 400 for a `Last-Event-ID`
    ///   that is not an event id; 429 `too-many-streams` / 503 over the stream bounds.
    func events(request: Request, context: GatewayRequestContext, route: String) async throws -> Response {
        let found = try await known(context: context, route: route)
        let client = context.client ?? ClientIdentity(name: "-", projects: .only([]), rateLimit: .init(rate: 1, burst: 1))
        var after: Int64 = 0
        if let header = request.headers[Self.lastEventIDHeader]?.trimmingCharacters(in: CharacterSet(charactersIn: " \t")), !header.isEmpty {
            // 1 to 18 ASCII digits (an event id; Int64 holds them all), as openapi.yaml says.
            guard header.utf8.count <= 18, header.utf8.allSatisfy({ (48...57).contains($0) }), let id = Int64(header) else {
                var problem = refused(
                    400, "invalid-request", "Invalid request", "Last-Event-ID \(InputExcerpt.of(header)) is not an event id",
                    client, context.requestID, route)
                problem.problem.errors = [FieldError(field: "Last-Event-ID", detail: "must be the id of an event of this stream (a whole number of at most 18 digits)")]
                throw problem
            }
            after = id
        }
        let requestID = found.request.requestID
        // A Last-Event-ID at or past the last event of a request that ended: nothing more will
        // come (204: the WHATWG rule makes a browser stop reconnecting). Of a running request,
        // the stream waits for the events after it, as asked. The event counter is read only
        // for a resumed stream of a request that has ended or is settling here (one more read
        // of its row); a request running goes straight to its stream.
        let ended: Bool
        switch found {
        case .ended(_, _, let state): ended = state != .running
        case .running(let driver): ended = driver.isSettled
        }
        var snapshot: StoredRequestSnapshot?
        if after > 0, ended {
            do throws(StoreError) {
                snapshot = try await registry.store.request(id: requestID)
            } catch {
                throw refused(
                    503, "store-unavailable", "Store unavailable",
                    "the gateway cannot read its store (\(error.kind.rawValue); the log has the details); ask again shortly",
                    client, context.requestID, route, retryAfter: Self.storeRetryAfterSeconds)
            }
        }
        if let snapshot, after >= snapshot.request.eventCounter, snapshot.request.state != .running {
            return Response(status: .noContent, headers: [.cacheControl: "no-store"])
        }
        try takeStream(client: client, requestID: context.requestID, route: route)
        let (eventStream, streams, resumeAfter) = (eventStream, streams, after)
        return Response(
            status: .ok, headers: EventStream.headers,
            body: ResponseBody { writer in
                defer { streams.release(client.name) }
                _ = await eventStream.run(requestID: requestID, after: resumeAfter, until: nil, writer: &writer)
                try await writer.finish(nil)
            })
    }

    /// Takes a stream slot for `client`; give it back with `streams.release`.
    /// - Throws: ``GatewayProblem`` 429 `too-many-streams` (the client's bound) or 503
    ///   `too-many-streams` (the gateway's), with `Retry-After`.
    func takeStream(client: ClientIdentity, requestID: String, route: String) throws {
        switch streams.take(client.name, perClient: configuration.eventsMaxStreamsPerClient) {
        case .taken:
            return
        case .clientFull(let limit):
            throw refused(
                429, "too-many-streams", "Too many event streams",
                "client \(client.name) already has \(limit) event streams open on this gateway (events.maxStreamsPerClient); close one, or read GET \(route)/{request_id}",
                client, requestID, route, retryAfter: 5)
        case .full(let limit):
            throw refused(
                503, "too-many-streams", "Too many event streams",
                "\(limit) event streams are open on this gateway (events.maxStreams); send it again shortly", client, requestID,
                route, retryAfter: 5)
        }
    }

    /// `POST` with `Accept: text/event-stream`: 200 at once, the request's events as they are
    /// stored, the last one `result` (the final document and the status the synchronous call
    /// would have had), or `timeout` (the 504 document) when the caller's `Prefer: wait`
    /// passes first. The caller's slot and its stream slot are held until the stream ends.
    /// - Returns: nil for an admission that is answered with a problem (422, 429, 503).
    func streamed(
        _ begun: Begun, client: ClientIdentity, requestID: String, route: String, context: GatewayRequestContext
    ) -> Response? {
        let streamedID: String
        let waiter: Task<CallerAnswer, Never>?
        let source: RequestLog.Source
        switch begun.admission {
        case .conflict, .tooManyPending, .tooManyStored, .storeUnavailable:
            return nil
        case .repeated(.ended(let stored, _, _)):
            (streamedID, waiter, source) = (stored.requestID, nil, .repeated)
        case .elsewhere(let earlierID, let document):
            let registry = registry
            (streamedID, source) = (earlierID, .repeated)
            waiter = Task { await registry.follow(requestID: earlierID, from: document, until: begun.deadline) }
        case .repeated(.running(let earlier)):
            (streamedID, source) = (earlier.request.requestID, .repeated)
            waiter = Task { await earlier.wait(until: begun.deadline) }
        case .new(let driver), .resumed(let driver):
            (streamedID, source) = (driver.request.requestID, .submitted)
            waiter = Task { await driver.wait(until: begun.deadline, starting: true) }
        }
        let (eventStream, streams, drain, log) = (eventStream, streams, drain, log)
        let deadline = begun.deadline
        var headers = EventStream.headers
        headers[ResponseFactory.requestIDHeader] = requestID
        if begun.wait.requested { headers[ResponseFactory.preferenceAppliedHeader] = "wait=\(begun.wait.seconds)" }
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                defer {
                    streams.release(client.name)
                    drain.finish()
                }
                let (end, last) = await eventStream.run(requestID: streamedID, after: 0, until: deadline, writer: &writer)
                switch end {
                case .deadline:
                    guard let answer = await waiter?.value else { break }
                    if answer.isFinal || answer.isEnd {
                        // Settled at the deadline: its result is stored; send what is left.
                        _ = await eventStream.run(
                            requestID: streamedID, after: last, until: .now.advanced(by: .seconds(5)), writer: &writer)
                    } else {
                        var data = JSONObjectWriter()
                        data.addJSON("document", answer.result.jsonUTF8)
                        data.add("status", answer.result.httpStatus)
                        _ = await EventStream.write(EventStream.frame(kind: "timeout", data: data.text), to: &writer)
                    }
                    log.answered(
                        answer.result, status: answer.result.httpStatus, client: client.name, route: route, source: source,
                        requestID: requestID, correlationID: context.correlationID)
                case .result, .closed, .drained, .storeFailed:
                    // The request line and the audit lines of the batches, as a synchronous
                    // caller's answer writes them: the end's document once the caller got it
                    // (at once after the result is stored), else the document as it stands.
                    if end != .result { waiter?.cancel() }
                    if let answer = await waiter?.value {
                        log.answered(
                            answer.result, status: answer.result.httpStatus, client: client.name, route: route, source: source,
                            requestID: requestID, correlationID: context.correlationID)
                    }
                }
                try? await writer.finish(nil)
            })
    }
}

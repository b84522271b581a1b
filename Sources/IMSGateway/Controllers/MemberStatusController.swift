import Foundation
import GatewayStore
import HTTPTypes
import Hummingbird
import IMSClient
import Logging
import NIOCore

/// `POST /accept-images` and `POST /reject-images`: validate, split into batches, submit one
/// IMS job per batch, wait for all of them and answer once; `GET /accept-images/{request_id}`
/// (and `/reject-images/...`): the stored outcome of an earlier request of the same client
/// (docs/ARCHITECTURE.md, "Public API"). A repeat with the same `Idempotency-Key` waits on, or
/// replays, the earlier request instead of submitting again. While the gateway drains, new
/// requests are refused with 503 and running ones end by the drain deadline.
final class MemberStatusController: Sendable {
    let configuration: GatewayConfiguration
    let planner: BatchPlanner
    let registry: RequestRegistry
    let drain: DrainController
    let metrics: GatewayMetrics
    let log: RequestLog
    /// How long until the upstream budget has room again: its pause, or the time the calls
    /// already queued for it take.
    let upstreamWait: @Sendable () -> Duration
    /// Long polls (`GET .../{request_id}` with `Prefer: wait`) held now, per client: at most
    /// the client's bound on pending requests (`clients.maxPendingRequests`) on this replica.
    let longPolls: ClientSlots
    /// Event streams open now (`GET .../events` and `POST` with `Accept: text/event-stream`):
    /// at most `events.maxStreamsPerClient` per client and `events.maxStreams` in all.
    let streams: ClientSlots
    /// Writes a request's stored events as Server-Sent Events.
    let eventStream: EventStream

    /// Creates it from its parts (one per stored property). A class, not a struct: a struct
    /// this size was copied into the async frame of every waiting request
    /// (BENCHMARKS.md, "Memory with 10,000 waiting callers").
    init(
        configuration: GatewayConfiguration,
        planner: BatchPlanner,
        registry: RequestRegistry,
        drain: DrainController,
        metrics: GatewayMetrics,
        log: RequestLog,
        upstreamWait: @escaping @Sendable () -> Duration
    ) {
        self.configuration = configuration
        self.planner = planner
        self.registry = registry
        self.drain = drain
        self.metrics = metrics
        self.log = log
        self.upstreamWait = upstreamWait
        longPolls = ClientSlots(total: configuration.maxCallersWaiting)
        streams = ClientSlots(total: configuration.eventsMaxStreams)
        eventStream = EventStream(
            store: registry.store, watchers: registry.watchers, drain: drain,
            keepAlive: .seconds(configuration.eventsKeepAliveSeconds),
            notified: { [registry] in !registry.store.isShared || registry.watchers.isListening })
    }

    static let idempotencyKeyHeader = HTTPField.Name("Idempotency-Key")!
    static let idempotentReplayedHeader = HTTPField.Name("Idempotent-Replayed")!

    func addRoutes(to router: some RouterMethods<GatewayRequestContext>) {
        for (route, memberStatus) in [("/accept-images", MemberStatus.accepted), ("/reject-images", .rejected)] {
            router.post(RouterPath(route)) { request, context in
                try await self.handle(request, context: context, memberStatus: memberStatus, route: route)
            }
            router.get(RouterPath(route + "/:requestID")) { request, context in
                try await self.stored(request: request, context: context, route: route)
            }
            router.get(RouterPath(route + "/:requestID/events")) { request, context in
                try await self.events(request: request, context: context, route: route)
            }
        }
    }

    private func handle(
        _ request: Request, context: GatewayRequestContext, memberStatus: MemberStatus, route: String
    ) async throws -> Response {
        // Every step up to the wait runs in a task of its own: this frame, which a caller keeps
        // for as long as it waits, holds only what the wait needs (``inTaskOfItsOwn(_:)``).
        let step = try await Self.inTaskOfItsOwn {
            try await self.admitted(request, context: context, memberStatus: memberStatus, route: route)
        }
        switch step {
        case .answered(let response):
            return response
        case .waits(let waiting):
            defer { finished(waiting) }
            return respond(await waiting.wait(registry: registry), to: waiting)
        }
    }

    /// What ``admitted(_:context:memberStatus:route:)`` leaves to the request's own task.
    enum Step: Sendable {
        /// Answered without waiting (a refusal is thrown instead).
        case answered(Response)
        /// The caller waits, then gets ``respond(_:to:)``.
        case waits(Waiting)
    }

    /// An admitted request whose caller waits: on what, and how its answer is made. A class:
    /// the frames of the wait, which every waiting caller keeps, hold one reference to it
    /// rather than copies of its fields (BENCHMARKS.md, "Memory per waiting caller").
    final class Waiting: Sendable {
        enum On: Sendable {
            /// The request this one started (`starting`), or an earlier one running here.
            case driver(LifecycleDriver, starting: Bool)
            /// An earlier request with the same key that runs on another replica.
            case elsewhere(requestID: String, document: MemberStatusResult)
        }
        let on: On
        let begun: Begun
        let replayed: Bool
        let source: RequestLog.Source
        let client: ClientIdentity
        let requestID: String
        let route: String
        let correlationID: String
        /// A streaming POST whose stream did not start: its stream slot is released at the end.
        let releasesStream: Bool

        init(
            on: On, begun: Begun, replayed: Bool, source: RequestLog.Source, client: ClientIdentity, requestID: String,
            route: String, correlationID: String, releasesStream: Bool
        ) {
            self.on = on
            self.begun = begun
            self.replayed = replayed
            self.source = source
            self.client = client
            self.requestID = requestID
            self.route = route
            self.correlationID = correlationID
            self.releasesStream = releasesStream
        }

        func wait(registry: RequestRegistry) async -> CallerAnswer {
            switch on {
            case .driver(let driver, let starting): await driver.wait(until: begun.deadline, starting: starting)
            case .elsewhere(let id, let document): await registry.follow(requestID: id, from: document, until: begun.deadline)
            }
        }
    }

    /// The answer to a caller that waited, logged.
    @inline(never)
    private func respond(_ answer: CallerAnswer, to waiting: Waiting) -> Response {
        respond(
            answer, waiting.begun, replayed: waiting.replayed, client: waiting.client, requestID: waiting.requestID,
            route: waiting.route, source: waiting.source, correlationID: waiting.correlationID)
    }

    /// Gives back the caller slot (and the stream slot) of a caller that waited.
    @inline(never)
    private func finished(_ waiting: Waiting) {
        drain.finish()
        if waiting.releasesStream { streams.release(waiting.client.name) }
    }

    /// Validates and admits the request, and answers it when it needs no wait.
    /// - Throws: ``GatewayProblem`` for every refusal (415, 413, 400, 403, 422, 429, 503).
    @inline(never)
    private func admitted(
        _ request: Request, context: GatewayRequestContext, memberStatus: MemberStatus, route: String
    ) async throws -> Step {
        let started = ContinuousClock.now
        let requestID = context.requestID
        let client = context.client ?? ClientIdentity(name: "-", projects: .only([]), rateLimit: .init(rate: 1, burst: 1))
        // The body is read before a caller slot is taken: a client that sends its body slowly
        // must not hold slots of `maxCallersWaiting` that other clients need.
        let plan = try await validated(request, memberStatus: memberStatus, client: client, requestID: requestID, route: route)
        let streaming = EventStream.isAsked(request.headers[.accept])
        if streaming { try takeStream(client: client, requestID: requestID, route: route) }
        do {
            try admit(client: client, requestID: requestID, route: route)
        } catch {
            if streaming { streams.release(client.name) }
            throw error
        }
        // A stream keeps its caller slot (and its stream slot) until the stream ends; a caller
        // that waits keeps them until ``handle`` ends.
        var handedOn = false
        defer {
            if !handedOn {
                drain.finish()
                if streaming { streams.release(client.name) }
            }
        }
        let begun = try await begin(
            plan, request: request, client: client, requestID: requestID, context: context, route: route, started: started)
        if streaming, let response = streamed(begun, client: client, requestID: requestID, route: route, context: context) {
            handedOn = true
            return .answered(response)
        }
        func waits(on: Waiting.On, replayed: Bool, source: RequestLog.Source) -> Step {
            handedOn = true
            return .waits(Waiting(
                on: on, begun: begun, replayed: replayed, source: source, client: client, requestID: requestID, route: route,
                correlationID: context.correlationID, releasesStream: streaming))
        }
        func answered(_ answer: CallerAnswer, replayed: Bool, source: RequestLog.Source) -> Step {
            .answered(respond(
                answer, begun, replayed: replayed, client: client, requestID: requestID, route: route, source: source,
                correlationID: context.correlationID))
        }
        switch begun.admission {
        case .conflict(let earlierID):
            throw refused(
                422, "idempotency-key-reused", "Idempotency-Key reused",
                "Idempotency-Key was already used by request \(earlierID) with a different body; use a new key for a different request",
                client, requestID, route)
        case .tooManyPending(let limit):
            metrics.pendingRequestsRefused()
            throw refused(
                429, "too-many-pending-requests", "Too many requests pending",
                "client \(client.name) already has \(limit) requests that are not final (waiting or in the background); send it again once some have ended",
                client, requestID, route, retryAfter: retryAfterSeconds)
        case .tooManyStored(let limit):
            metrics.storedRequestsRefused()
            throw refused(
                429, "too-many-stored-requests", "Too many requests stored",
                "client \(client.name) already has \(limit) requests stored (outcomes are kept \(configuration.outcomeTTLSeconds) s after they end); new requests with an Idempotency-Key are refused until older ones expire",
                client, requestID, route, retryAfter: retryAfterSeconds)
        case .storeUnavailable(let error):
            throw refused(
                503, "store-unavailable", "Store unavailable",
                "the gateway cannot write its store (\(error.kind.rawValue); the log has the details), so it cannot promise that a repeat will not submit again; nothing was sent to IMS",
                client, requestID, route, retryAfter: Self.storeRetryAfterSeconds)
        case .repeated(.ended(_, let result, let state)):
            let answer = CallerAnswer(
                result: result, continuesInBackground: false, cutByDrain: false, isFinal: state == .final, retryAfter: nil)
            return answered(answer, replayed: state == .final, source: .repeated)
        case .elsewhere(let earlierID, let document):
            if begun.answersAtOnce { return answered(Self.goesOn(document), replayed: false, source: .repeated) }
            return waits(on: .elsewhere(requestID: earlierID, document: document), replayed: false, source: .repeated)
        case .repeated(.running(let earlier)):
            let replayed = earlier.isSettled
            if begun.answersAtOnce && !replayed { return answered(Self.goesOn(earlier.current()), replayed: false, source: .repeated) }
            return waits(on: .driver(earlier, starting: false), replayed: replayed, source: .repeated)
        case .new(let driver), .resumed(let driver):
            if begun.answersAtOnce {
                // No caller joins: the request runs as a background wait from the start (its
                // submits bounded by wait.maxBackgroundSeconds, not by a caller's deadline).
                driver.start(recovered: false)
                return answered(Self.goesOn(driver.current()), replayed: false, source: .submitted)
            }
            return waits(on: .driver(driver, starting: true), replayed: false, source: .submitted)
        }
    }

    /// A request that passed validation and was entered in the outcome store.
    struct Begun {
        var admission: RequestRegistry.Admission
        var wait: WaitPreference
        var deadline: ContinuousClock.Instant
        /// `Prefer: respond-async` without `wait`: answered 202 once stored, without waiting.
        var answersAtOnce: Bool { wait.respondAsync && !wait.requested }
    }

    /// The answer of a request that goes on without its caller: its document as it stands.
    private static func goesOn(_ document: MemberStatusResult) -> CallerAnswer {
        CallerAnswer(result: document, continuesInBackground: true, cutByDrain: false, isFinal: false, retryAfter: nil)
    }

    // The steps of `handle` that do not wait are out of line (never inlined into it): what
    // they build would otherwise sit in the async frame that every request keeps while it
    // waits (BENCHMARKS.md, "Memory with 10,000 waiting callers").

    /// Runs `step` in a task of its own and returns what it returns (or throws what it throws).
    /// The Swift task allocator keeps every slab a task's async frames ever took until the task
    /// ends, so a deep step (reading the body, the store's write path) run in the request's own
    /// task would keep its frames' memory for as long as the caller waits (minutes for a long
    /// job). Run here, they are freed when the step ends (BENCHMARKS.md, "Memory per waiting
    /// caller"). The step is not cancelled with the caller: it is short, and an admission that
    /// was stored must finish.
    @inline(never)
    static func inTaskOfItsOwn<T: Sendable>(_ step: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task { try await step() }.value
    }

    /// Counts the request as running, or refuses it (503) while draining or full.
    @inline(never)
    private func admit(client: ClientIdentity, requestID: String, route: String) throws {
        switch drain.admit(limit: configuration.maxCallersWaiting) {
        case .admitted:
            return
        case .draining:
            throw refused(
                503, "draining", "Shutting down",
                "the gateway is shutting down and takes no new requests; send it again (another instance will answer it)",
                client, requestID, route, retryAfter: Self.drainingRetryAfterSeconds)
        case .full:
            throw refused(
                503, "too-many-callers", "Too many callers waiting",
                "\(configuration.maxCallersWaiting) callers are already waiting; send it again shortly", client, requestID, route, retryAfter: 1)
        }
    }

    /// Checks the project and the Idempotency-Key, reads the wait preference and stores the
    /// request (or finds the earlier one with its key).
    /// - Throws: ``GatewayProblem`` 403 (project not allowed) or 400 (invalid Idempotency-Key).
    @inline(never)
    private func begin(
        _ plan: MemberStatusPlan, request: Request, client: ClientIdentity, requestID: String,
        context: GatewayRequestContext, route: String, started: ContinuousClock.Instant
    ) async throws -> Begun {
        guard client.allows(projectID: plan.projectID) else {
            metrics.clientAuthFailure(reason: "project_not_allowed")
            throw refused(
                403, "project-not-allowed", "Project not allowed",
                "client \(client.name) may not change image members of project \(plan.projectID)", client, requestID, route)
        }
        let idempotencyKey: String?
        do {
            idempotencyKey = try IdempotencyKey.parse(request.headers[Self.idempotencyKeyHeader])
        } catch {
            var problem = refused(400, "invalid-request", "Invalid request", "Idempotency-Key \(error)", client, requestID, route)
            problem.problem.errors = [FieldError(field: "Idempotency-Key", detail: error.description)]
            throw problem
        }
        let wait = WaitPreference(
            PreferHeader(request.headers[values: ResponseFactory.preferHeader]), defaultSeconds: configuration.defaultWaitSeconds,
            maxSeconds: configuration.maxWaitSeconds)
        let now = Date()
        // The batches that start at once have their first attempt stored with the request.
        var batches = plan.batches.enumerated().map { LifecycleBatch(index: $0.offset, images: $0.element) }
        for index in batches.indices.prefix(max(1, configuration.fanOutPerRequest)) { batches[index].storedAttempts = 1 }
        let stored = StoredRequest(
            requestID: requestID, correlationID: context.correlationID, clientName: client.name, route: route, plan: plan,
            idempotencyKey: idempotencyKey, started: started, createdAt: now,
            backgroundUntil: started.advanced(by: .seconds(configuration.maxBackgroundWaitSeconds)), weight: client.weight)
        let limits = AdmissionLimits(
            maxRunning: max(1, client.maxPendingRequests ?? configuration.maxPendingRequestsPerClient),
            maxStored: idempotencyKey == nil ? .max : client.maxStoredRequests ?? configuration.outcomeMaxPerClient)
        let admission = await registry.begin(
            stored, batches: batches, limits: limits, deadline: now.addingTimeInterval(TimeInterval(wait.seconds)))
        return Begun(admission: admission, wait: wait, deadline: started.advanced(by: .seconds(wait.seconds)))
    }

    /// The answer to a request, logged.
    @inline(never)
    private func respond(
        _ caller: CallerAnswer, _ begun: Begun, replayed: Bool, client: ClientIdentity, requestID: String, route: String,
        source: RequestLog.Source, correlationID: String
    ) -> Response {
        let result = caller.result
        var answer = MemberStatusAnswer(
            result: result, route: route, waitedSeconds: begun.wait.seconds, retryAfterSeconds: retryAfterSeconds,
            throttledRetryAfterSeconds: throttledRetryAfterSeconds)
        if begun.wait.requested { answer.headers[ResponseFactory.preferenceAppliedHeader] = "wait=\(begun.wait.seconds)" }
        if replayed { answer.headers[Self.idempotentReplayedHeader] = "true" }
        answer.cutByDrain = caller.cutByDrain
        answer.continuesInBackground = caller.continuesInBackground
        answer.throttledRetryAfter = caller.retryAfter
        answer.documentJSON = caller.documentJSON
        if begun.wait.respondAsync, caller.continuesInBackground || caller.cutByDrain, result.httpStatus == 504 {
            // `Prefer: respond-async`: the request goes on; 202 with where to read it.
            answer.headers[.location] = "\(route)/\(result.requestID)"
            answer.headers[ResponseFactory.preferenceAppliedHeader] =
                begun.wait.requested ? "respond-async, wait=\(begun.wait.seconds)" : "respond-async"
            log.answered(
                result, status: 202, client: client.name, route: route, source: source, requestID: requestID,
                correlationID: correlationID)
            return answer.running()
        }
        log.answered(
            result, status: result.httpStatus, client: client.name, route: route, source: source, requestID: requestID,
            correlationID: correlationID)
        return answer.response()
    }

    /// `GET <route>/{request_id}`: the stored request of the same client, final (its own
    /// status), given up (504) or still running (202 with its current state). With
    /// `Prefer: wait=N` (at most `wait.maxSeconds`) a running request is waited on for up to N
    /// seconds first, as a repeat would wait: joined when it runs here, followed in the store
    /// when another replica runs it; `Preference-Applied: wait=N` says so. A wait takes a
    /// caller slot (`maxCallersWaiting`) and is cut by a drain like any other.
    private func stored(request: Request, context: GatewayRequestContext, route: String) async throws -> Response {
        let clientName = context.client?.name ?? "-"
        let found = try await known(context: context, route: route)
        let stored = found.request
        var result: MemberStatusResult
        var isComplete: Bool
        switch found {
        case .running(let driver):
            result = driver.current()
            isComplete = driver.isSettled
        case .ended(_, let stored, let state):
            result = stored
            isComplete = state != .running
        }
        let wait = WaitPreference(
            PreferHeader(request.headers[values: ResponseFactory.preferHeader]), defaultSeconds: 0,
            maxSeconds: configuration.maxWaitSeconds)
        if wait.requested, !isComplete, wait.seconds > 0 {
            let client = context.client ?? ClientIdentity(name: clientName, projects: .only([]), rateLimit: .init(rate: 1, burst: 1))
            let perClient = client.maxPendingRequests ?? configuration.maxPendingRequestsPerClient
            switch longPolls.take(client.name, perClient: perClient) {
            case .taken:
                break
            case .clientFull(let limit):
                throw refused(
                    429, "too-many-long-polls", "Too many long polls",
                    "client \(client.name) already holds \(limit) long polls (GET with Prefer: wait) on this gateway; send it again without Prefer: wait, or once some have ended",
                    client, context.requestID, route, retryAfter: retryAfterSeconds)
            case .full(let limit):
                throw refused(
                    503, "too-many-callers", "Too many callers waiting",
                    "\(limit) callers are already waiting; send it again shortly", client, context.requestID, route, retryAfter: 1)
            }
            defer { longPolls.release(client.name) }
            try admit(client: client, requestID: context.requestID, route: route)
            defer { drain.finish() }
            metrics.callersWaiting(1)
            defer { metrics.callersWaiting(-1) }
            let deadline = ContinuousClock.now.advanced(by: .seconds(wait.seconds))
            let waited: CallerAnswer
            switch found {
            case .running(let driver): waited = await driver.wait(until: deadline)
            case .ended: waited = await registry.follow(requestID: stored.requestID, from: result, until: deadline)
            }
            result = waited.result
            // A wait cut by the drain leaves the request running (stored for the next owner):
            // 202, never the 504 of a request whose background wait gave up.
            isComplete = !waited.continuesInBackground && !waited.cutByDrain
        }
        var answer = MemberStatusAnswer(
            result: result, route: route, retryAfterSeconds: retryAfterSeconds,
            throttledRetryAfterSeconds: throttledRetryAfterSeconds)
        if wait.requested { answer.headers[ResponseFactory.preferenceAppliedHeader] = "wait=\(wait.seconds)" }
        guard isComplete else {
            return answer.running()
        }
        answer.continuesInBackground = false
        return answer.response()
    }

    /// The body, read and validated. 415, 413 and 400 are thrown as problems.
    private func validated(
        _ request: Request, memberStatus: MemberStatus, client: ClientIdentity, requestID: String, route: String
    ) async throws -> MemberStatusPlan {
        guard Self.isJSON(request.headers[.contentType]) else {
            throw refused(415, "unsupported-media-type", "Unsupported media type", "send the body as application/json", client, requestID, route)
        }
        if let encoding = request.headers[.contentEncoding], encoding.lowercased() != "identity" {
            throw refused(415, "unsupported-media-type", "Unsupported media type", "send the body without Content-Encoding", client, requestID, route)
        }
        let tooLarge = "the body is larger than \(configuration.maxBodyBytes) bytes"
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > configuration.maxBodyBytes {
            throw refused(413, "body-too-large", "Request body too large", tooLarge, client, requestID, route)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: configuration.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw refused(413, "body-too-large", "Request body too large", tooLarge, client, requestID, route)
        }
        switch planner.plan(body: Array(body.readableBytesView), memberStatus: memberStatus) {
        case .success(let plan):
            return plan
        case .failure(let invalid):
            var problem = refused(
                400, "invalid-request", "Invalid request body",
                "\(invalid.errors.count) field(s) are invalid; nothing was sent to IMS", client, requestID, route)
            // A hostile body can name thousands of bad fields; the answer stays small.
            problem.problem.errors = Array(invalid.errors.prefix(Self.maxFieldErrors))
            if invalid.errors.count > Self.maxFieldErrors {
                problem.problem.detail += " (the first \(Self.maxFieldErrors) are listed)"
            }
            throw problem
        }
    }

    /// `Retry-After` of a 429 for throttling: whole seconds until the budget has room, at
    /// least 1.
    private var throttledRetryAfterSeconds: Int {
        max(1, MemberStatusAnswer.wholeSecondsRoundedUp(upstreamWait()))
    }

    /// `Retry-After` of a 504 or 202, in seconds: the longest pause between polls.
    private var retryAfterSeconds: Int { max(1, Int(configuration.pollSchedule.maxDelay.components.seconds)) }

    /// `Retry-After` of a request refused while draining, in seconds: by then another instance
    /// (or this one's replacement) takes it.
    static let drainingRetryAfterSeconds = 2

    /// `Retry-After` of a request refused because the store cannot be written, in seconds.
    static let storeRetryAfterSeconds = 5

    /// Most entries of `errors[]` in a 400 answer.
    static let maxFieldErrors = 100

    /// A refusal before any upstream call, logged with its status; `retryAfter` (whole
    /// seconds) becomes its `Retry-After` header when given.
    @inline(never)
    func refused(
        _ status: Int, _ slug: String, _ title: String, _ detail: String, _ client: ClientIdentity, _ requestID: String,
        _ route: String, retryAfter: Int? = nil
    ) -> GatewayProblem {
        log.refused(status: status, detail: detail, client: client.name, route: route, requestID: requestID)
        var problem = GatewayProblem(ProblemDetails(slug: slug, title: title, status: status, detail: detail, requestID: requestID))
        if let retryAfter { problem.headers[ResponseFactory.retryAfterHeader] = "\(retryAfter)" }
        return problem
    }

    /// `application/json` or any `+json` type, parameters ignored.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        // The media type is what comes before the first ";" (found by byte: `split` cost more
        // than the rest of the check).
        let end = contentType.utf8.firstIndex(of: UInt8(ascii: ";")) ?? contentType.endIndex
        let type = contentType[..<end].trimmingWhitespace().lowercased()
        return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
    }
}

/// The correlation id of a request: the caller's `X-Request-Id` when it is short and plain,
/// else the gateway's own request id.
enum RequestIdentifier {
    static func correlation(_ header: String?) -> String? {
        // "." and ".." would be dropped from a URL path by clients: never a stored request's id.
        if let header, (1...128).contains(header.utf8.count), header != ".", header != "..",
            header.utf8.allSatisfy({ byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            })
        {
            return header
        }
        return nil
    }

    /// A new request id: a random (version 4) UUID in lower case, `8-4-4-4-12` hexadecimal
    /// digits. Its 122 random bits come from `SystemRandomNumberGenerator` (`getrandom(2)` on
    /// Linux): Foundation's `UUID()` on Linux opens, reads and closes `/dev/urandom` for each
    /// one, three system calls a request (BENCHMARKS.md, "JSON read without JSONSerialization").
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let high: UInt64 = generator.next(), low: UInt64 = generator.next()
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<8 {
            bytes[index] = UInt8(truncatingIfNeeded: high >> (56 - 8 * index))
            bytes[8 + index] = UInt8(truncatingIfNeeded: low >> (56 - 8 * index))
        }
        bytes[6] = bytes[6] & 0x0F | 0x40  // version 4 (RFC 9562, section 5.4)
        bytes[8] = bytes[8] & 0x3F | 0x80  // the RFC's variant
        // Formatted here: Foundation's `uuidString` and `lowercased()` took 7,000 instructions.
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, digit) in LowercaseHex.utf8(bytes).enumerated() {
            if index == 8 || index == 12 || index == 16 || index == 20 { text.append(UInt8(ascii: "-")) }
            text.append(digit)
        }
        return String(decoding: text, as: UTF8.self)
    }
}

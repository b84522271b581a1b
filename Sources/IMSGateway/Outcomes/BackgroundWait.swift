import GatewayStore
import IMSClient
import Logging

/// Settles a request once its caller has its answer (docs/ARCHITECTURE.md, "Waiting" and
/// "State and recovery"): a final result is stored as the outcome; jobs still pending when the
/// caller's deadline passed are waited on further, in the background, until the request's
/// `backgroundUntil`, and their final outcome is stored then (a 504 is never stored as final).
/// A wait cut by the drain stays `running` in the store: the next start resumes it.
final class BackgroundWait: Sendable {
    let executor: PlanExecutor
    let registry: RequestRegistry
    let drain: DrainController
    let metrics: GatewayMetrics
    let log: RequestLog

    /// Creates it from its parts (one per stored property).
    init(
        executor: PlanExecutor,
        registry: RequestRegistry,
        drain: DrainController,
        metrics: GatewayMetrics,
        log: RequestLog
    ) {
        self.executor = executor
        self.registry = registry
        self.drain = drain
        self.metrics = metrics
        self.log = log
    }

    /// Stores `result` as the outcome of `request` (before the caller is answered, by
    /// `answerBy` at the latest), or starts the background wait.
    /// - Returns: whether a background wait goes on with the request.
    @discardableResult
    func settle(_ request: StoredRequest, result: MemberStatusResult, answerBy: ContinuousClock.Instant) async -> Bool {
        if let state = Self.endState(of: result, request: request, draining: drain.isDraining) {
            await registry.finish(request, result: result, state: state, answerBy: answerBy)
            if state != .running { metrics.requestEnded(upstreamCalls: result.totals.upstreamCalls) }
            return false
        }
        request.record(result.batches)
        continueInBackground(request, from: result.batches)
        return true
    }

    /// Waits for the jobs of `request` from where `batches` left them, until its
    /// `backgroundUntil` (or the drain deadline), and stores where it ended. Also how requests
    /// found running at start are resumed.
    func continueInBackground(_ request: StoredRequest, from batches: [BatchResult]) {
        metrics.backgroundWaits(+1)
        // Unstructured on purpose: it outlives the caller's answer. It ends by its deadline, or
        // by the drain deadline when the gateway shuts down.
        Task {
            let batches = await executor.execute(
                request.plan, from: batches, deadline: request.backgroundUntil, correlationID: request.correlationID,
                caller: request.upstreamCaller, journal: RequestJournal(registry: registry, request: request),
                isBackground: true, progress: { request.record($0) })
            let final = MemberStatusResult(
                requestID: request.requestID, plan: request.plan, batches: batches,
                elapsedMs: request.started.duration(to: .now).wholeMilliseconds)
            let state = Self.endState(of: final, request: request, draining: drain.isDraining) ?? .givenUp
            await registry.finish(request, result: final, state: state, answerBy: .now.advanced(by: .seconds(5)))
            metrics.backgroundWaits(-1)
            guard state != .running else { return }
            metrics.requestEnded(upstreamCalls: final.totals.upstreamCalls)
            log.answered(
                final, status: final.httpStatus, client: request.clientName, route: request.route, source: .background,
                requestID: request.requestID)
        }
    }

    /// Where a request whose wait ended with `result` stands: `final`, `not_submitted`,
    /// `given_up` (past its background deadline), `running` (the drain cut it: resumed at the
    /// next start), or nil when the background wait should go on.
    static func endState(of result: MemberStatusResult, request: StoredRequest, draining: Bool) -> RequestState? {
        switch result.outcome {
        case .succeeded, .failed, .partiallyFailed:
            return .final
        case .notSubmitted where !result.batches.contains(where: { $0.errorCode == BatchResult.storeUnavailableCode }):
            // Nothing was sent (throttled): a repeat submits again.
            return .notSubmitted
        case .notSubmitted, .timedOut, .running:
            if ContinuousClock.now >= request.backgroundUntil { return .givenUp }
            return draining ? .running : nil
        }
    }
}

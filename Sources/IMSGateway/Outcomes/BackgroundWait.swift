import IMSClient
import Logging

/// Settles a request once its caller has its answer: a final result is stored as the outcome;
/// jobs still pending when the caller's deadline passed are waited on further, in the
/// background, up to `max_background_wait` after the request arrived, and their final outcome
/// is stored then (docs/ARCHITECTURE.md, "Waiting": a 504 is never stored as final).
final class BackgroundWait: Sendable {
    let executor: PlanExecutor
    let outcomes: OutcomeStore
    let drain: DrainController
    /// How long after a request arrived the gateway may still wait for its jobs.
    let maxBackgroundWait: Duration
    let metrics: GatewayMetrics
    let log: RequestLog

    /// Creates it from its parts (one per stored property). A class, not a struct: a struct
    /// this size was copied into the async frame of every waiting request
    /// (BENCHMARKS.md, "Memory with 10,000 waiting callers").
    init(
        executor: PlanExecutor,
        outcomes: OutcomeStore,
        drain: DrainController,
        maxBackgroundWait: Duration,
        metrics: GatewayMetrics,
        log: RequestLog
    ) {
        self.executor = executor
        self.outcomes = outcomes
        self.drain = drain
        self.maxBackgroundWait = maxBackgroundWait
        self.metrics = metrics
        self.log = log
    }

    /// Stores `result` as the outcome of `request`, or starts the background wait.
    /// - Returns: whether a background wait goes on with the request.
    @discardableResult
    func settle(_ request: StoredRequest, result: MemberStatusResult, route: String) -> Bool {
        func end(isFinal: Bool) -> Bool {
            outcomes.complete(request, with: result, isFinal: isFinal)
            metrics.requestEnded(upstreamCalls: result.totals.upstreamCalls)
            return false
        }
        switch result.outcome {
        case .succeeded, .failed, .partiallyFailed:
            return end(isFinal: true)
        case .notSubmitted:
            // Nothing was sent: a repeat may run it afresh.
            return end(isFinal: false)
        case .timedOut, .running:
            break
        }
        let deadline = request.started.advanced(by: maxBackgroundWait)
        guard !drain.isDraining, ContinuousClock.now < deadline else { return end(isFinal: false) }
        request.record(result.batches)
        metrics.backgroundWaits(+1)
        // Unstructured on purpose: it outlives the caller's answer. It ends by `deadline`, or by
        // the drain deadline when the gateway shuts down.
        Task {
            let batches = await executor.execute(
                request.plan, from: result.batches, deadline: deadline, requestID: request.requestID,
                caller: request.upstreamCaller, isBackground: true, progress: { request.record($0) })
            let final = MemberStatusResult(
                requestID: request.requestID, plan: request.plan, batches: batches,
                elapsedMs: request.started.duration(to: .now).wholeMilliseconds)
            let isFinal = final.outcome != .timedOut && final.outcome != .notSubmitted
            outcomes.complete(request, with: final, isFinal: isFinal)
            metrics.backgroundWaits(-1)
            metrics.requestEnded(upstreamCalls: final.totals.upstreamCalls)
            log.answered(
                final, status: final.httpStatus, client: request.clientName, route: route, source: .background,
                requestID: request.requestID)
        }
        return true
    }
}

import IMSClient

/// Runs every batch of a plan, at most `fanOut` at once, and collects their results in order.
final class PlanExecutor: Sendable {
    let runner: BatchRunner
    let fanOut: Int

    /// Creates it from its parts (one per stored property). A class, not a struct: a struct
    /// this size was copied into the async frame of every waiting request
    /// (BENCHMARKS.md, "Memory with 10,000 waiting callers").
    init(
        runner: BatchRunner,
        fanOut: Int
    ) {
        self.runner = runner
        self.fanOut = fanOut
    }

    /// Runs the batches of `plan` from where `batches` left them (all new when nil): batches
    /// not submitted are submitted, pending ones waited on further, the others kept as they are.
    /// - Parameters:
    ///   - deadline: when every wait ends.
    ///   - caller: the client the request is for (its share of the IMS call budget).
    ///   - isBackground: whether the request's caller was already answered.
    ///   - reportsPending: whether batches still pending at the end count in the job metrics.
    ///   - progress: told each batch's state when its job is submitted, after every poll and
    ///     when it is done.
    ///   - journal: where submit attempts and job ids are written ahead.
    func execute(
        _ plan: MemberStatusPlan, from batches: [BatchResult]? = nil, deadline: ContinuousClock.Instant,
        correlationID: String, caller: UpstreamCaller, journal: any BatchJournal, isBackground: Bool = false,
        reportsPending: Bool = true,
        progress: @escaping @Sendable (BatchResult) -> Void = { _ in }
    ) async -> [BatchResult] {
        var results = batches ?? plan.batches.enumerated().map { BatchResult(index: $0.offset, images: $0.element) }
        let pending = results.filter { $0.state == .pending || $0.state == .notSubmitted }
        await withTaskGroup(of: BatchResult.self) { group in
            var next = 0
            func startNext() {
                guard next < pending.count else { return }
                let batch = pending[next]
                next += 1
                group.addTask {
                    await self.runner.run(
                        batch, plan: plan, deadline: deadline, correlationID: correlationID, caller: caller, journal: journal,
                        isBackground: isBackground, reportsPending: reportsPending, progress: progress)
                }
            }
            for _ in 0..<max(1, fanOut) { startNext() }
            for await finished in group {
                results[finished.index] = finished
                progress(finished)
                startNext()
            }
        }
        return results
    }
}

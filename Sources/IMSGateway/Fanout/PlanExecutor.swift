import IMSClient

/// Runs every batch of a plan, at most `fanOut` at once, and collects their results in order.
struct PlanExecutor: Sendable {
    let runner: BatchRunner
    let fanOut: Int

    func execute(_ plan: MemberStatusPlan, deadline: ContinuousClock.Instant, requestID: String) async -> [BatchResult] {
        var results = plan.batches.enumerated().map { BatchResult(index: $0.offset, images: $0.element) }
        let pending = results
        await withTaskGroup(of: BatchResult.self) { group in
            var next = 0
            func startNext() {
                guard next < pending.count else { return }
                let batch = pending[next]
                next += 1
                group.addTask { await runner.run(batch, plan: plan, deadline: deadline, requestID: requestID) }
            }
            for _ in 0..<max(1, fanOut) { startNext() }
            for await finished in group {
                results[finished.index] = finished
                startNext()
            }
        }
        return results
    }
}

import Foundation
import IMSClient
import Synchronization

/// How long and how hard to load.
struct LoadPlan: Sendable {
    /// Concurrent senders.
    var concurrency: Int
    /// Seconds of load before the measured window (0 with `requests`).
    var warmup: Double
    /// Seconds of the measured window (unused with `requests`).
    var duration: Double
    /// Total requests to send, every one measured; nil to run for `warmup + duration` seconds.
    var requests: Int?
}

/// What the load produced in its measured window.
struct LoadResult: Sendable {
    /// Latency of every measured request, in nanoseconds, sorted.
    var latencies: [Int64]
    /// Count per HTTP status.
    var statuses: [Int: Int]
    /// Requests that got no HTTP answer.
    var errors: Int
    /// Every request sent, the warm-up's included (for connections per request).
    var sent = 0
    /// The first transport error, for the report.
    var firstError: String?
    /// Seconds from the window's start to the last measured answer.
    var seconds: Double
    /// Per watched process: CPU, peak RSS and threads in the window.
    var processes: [String: ProcessWatch.Summary]
}

/// Runs the senders of a ``LoadPlan`` and gathers what they measured.
struct LoadRunner: Sendable {
    let sender: LoadSender
    let plan: LoadPlan
    let watch: ProcessWatch

    private struct WorkerResult: Sendable {
        var latencies: [Int64] = []
        var statuses: [Int: Int] = [:]
        var errors = 0
        var sent = 0
        var firstError: String?
        var lastEnd: ContinuousClock.Instant?
    }

    private final class Tickets: Sendable {
        let remaining: Mutex<Int>
        init(_ count: Int) { remaining = Mutex(count) }
        func take() -> Bool { remaining.withLock { count in count > 0 ? (count -= 1, true).1 : false } }
    }

    func run() async -> LoadResult {
        let clock = ContinuousClock()
        let begin = clock.now
        let windowStart = begin + .milliseconds(Int64(plan.warmup * 1000))
        let stopAt = windowStart + .milliseconds(Int64(plan.duration * 1000))
        let tickets = plan.requests.map(Tickets.init)
        let sampler = Task {
            try? await clock.sleep(until: windowStart)
            watch.start()
            while !Task.isCancelled {
                try? await clock.sleep(for: .milliseconds(100))
                watch.sample()
            }
        }
        let results = await withTaskGroup(of: WorkerResult.self) { group in
            for _ in 0..<plan.concurrency {
                group.addTask {
                    var result = WorkerResult()
                    while true {
                        let start = clock.now
                        if let tickets {
                            guard tickets.take() else { break }
                        } else if start >= stopAt {
                            break
                        }
                        let measured = start >= windowStart
                        result.sent += 1
                        do {
                            let status = try await sender.sendOne()
                            let end = clock.now
                            guard measured else { continue }
                            result.latencies.append(Int64((end - start).wholeNanoseconds))
                            result.statuses[status, default: 0] += 1
                            result.lastEnd = max(result.lastEnd ?? end, end)
                        } catch {
                            guard measured else { continue }
                            result.errors += 1
                            result.firstError = result.firstError ?? "\(error)"
                            result.lastEnd = max(result.lastEnd ?? clock.now, clock.now)
                        }
                    }
                    return result
                }
            }
            var all: [WorkerResult] = []
            for await result in group { all.append(result) }
            return all
        }
        sampler.cancel()
        _ = await sampler.value
        let processes = watch.finish()
        var merged = LoadResult(latencies: [], statuses: [:], errors: 0, seconds: 0, processes: processes)
        var lastEnd = windowStart
        for result in results {
            merged.latencies.append(contentsOf: result.latencies)
            merged.statuses.merge(result.statuses, uniquingKeysWith: +)
            merged.errors += result.errors
            merged.sent += result.sent
            merged.firstError = merged.firstError ?? result.firstError
            if let end = result.lastEnd { lastEnd = max(lastEnd, end) }
        }
        merged.latencies.sort()
        merged.seconds = Double((lastEnd - windowStart).wholeNanoseconds) / 1e9
        return merged
    }
}

import Foundation

/// The JSON form of a ``FaultPlan`` as `GET /_sim/faults` shows it: the same fields as
/// `FaultPlan.init(json:over:)` reads, every one present, plus each fault's `remaining` count.
extension FaultPlan {
    /// The plan in its JSON form; `remaining[i]` (when given) is shown as the `remaining` count
    /// of `calls[i]`, then of `jobs[i - calls.count]`.
    func jsonObject(remaining: [Int?] = []) -> [String: Any] {
        func left(_ index: Int) -> Any {
            index < remaining.count ? (remaining[index].map { $0 as Any } ?? NSNull()) : NSNull()
        }
        let callObjects = calls.enumerated().map { index, fault -> [String: Any] in
            var object = Self.json(fault)
            object["remaining"] = left(index)
            return object
        }
        let jobObjects = jobs.enumerated().map { index, fault -> [String: Any] in
            var object = Self.json(fault)
            object["remaining"] = left(calls.count + index)
            return object
        }
        return [
            "job_duration": Self.json(jobDuration),
            "quota": ["calls": quota.calls.map { $0 as Any } ?? NSNull(), "window_seconds": quota.windowSeconds],
            "calls": callObjects,
            "jobs": jobObjects,
        ]
    }

    static func json(_ distribution: JobDurationDistribution) -> [String: Any] {
        switch distribution {
        case .fixed(let duration):
            ["distribution": "fixed", "ms": duration.inMilliseconds]
        case .uniform(let min, let max, let seed):
            ["distribution": "uniform", "min_ms": min.inMilliseconds, "max_ms": max.inMilliseconds, "seed": seed]
        case .logNormal(let median, let sigma, let seed):
            ["distribution": "lognormal", "median_ms": median.inMilliseconds, "sigma": sigma, "seed": seed]
        }
    }

    private static func json(_ fault: CallFault) -> [String: Any] {
        var object: [String: Any] = [
            "fault": fault.kind.name, "operation": fault.operation ?? "*",
            "count": fault.count.map { $0 as Any } ?? NSNull(),
        ]
        switch fault.kind {
        case .httpError(let status, let code, let message):
            object["status"] = status
            object["error_code"] = code
            object["message"] = message
        case .close(let reset):
            object["reset"] = reset
        case .delay(let milliseconds):
            object["delay_ms"] = milliseconds
        case .malformedJSON:
            break
        case .throttle(let retryAfter):
            switch retryAfter {
            case .none: object["retry_after"] = "none"
            case .seconds(let seconds):
                object["retry_after"] = "seconds"
                object["retry_after_seconds"] = seconds
            case .httpDate(let seconds):
                object["retry_after"] = "http_date"
                object["retry_after_seconds"] = seconds
            case .garbage: object["retry_after"] = "garbage"
            }
        }
        return object
    }

    private static func json(_ fault: JobFault) -> [String: Any] {
        var object: [String: Any] = [
            "fault": fault.kind.name, "image_id": fault.imageID.map { $0 as Any } ?? NSNull(),
            "count": fault.count.map { $0 as Any } ?? NSNull(),
        ]
        switch fault.kind {
        case .duration(let milliseconds): object["duration_ms"] = milliseconds
        case .stuck: break
        case .statusWord(let word, let whileRunning):
            object["status"] = word
            object["phase"] = whileRunning ? "running" : "final"
        case .omitField(let field, let polls):
            object["field"] = field.rawValue
            object["polls"] = polls.map { $0 as Any } ?? NSNull()
        case .notFound(let polls): object["polls"] = polls
        }
        return object
    }
}

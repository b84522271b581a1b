import Foundation

/// The JSON form of a ``FaultPlan``, as `PUT /_sim/faults` takes it and `GET /_sim/faults`
/// shows it:
///
/// ```json
/// {"job_duration": {"distribution": "lognormal", "median_ms": 3000, "sigma": 0.5, "seed": 42},
///  "quota": {"calls": 100, "window_seconds": 10},
///  "calls": [{"fault": "http_error", "operation": "ShowJob", "count": 3, "status": 503}],
///  "jobs": [{"fault": "not_found", "polls": 2, "count": 1}]}
/// ```
/// Every field is optional: an absent `job_duration` or `quota` keeps the start-up value, `null`
/// resets `quota` to none; absent `calls`/`jobs` mean none. Unknown fields are refused.
extension FaultPlan {
    /// Parses a PUT body over `base` (the start-up plan).
    /// - Parameters:
    ///   - body: the request body bytes (UTF-8 JSON).
    ///   - base: the plan whose `job_duration` and `quota` apply when the body has none.
    /// - Throws: ``SimulatorSettingError`` naming the first bad field.
    public init(json body: [UInt8], over base: FaultPlan) throws(SimulatorSettingError) {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(body))
        } catch {
            throw SimulatorSettingError("the body is not JSON")
        }
        let fields = try JSONFields(value, path: "")
        try fields.rejectUnknown(["job_duration", "quota", "calls", "jobs"])
        self = base
        calls = []
        jobs = []
        if fields.has("job_duration") {
            jobDuration = try Self.jobDuration(try JSONFields(fields.object["job_duration"] as Any, path: "job_duration"))
        }
        if fields.isNull("quota") {
            quota = .unlimited
        } else if fields.has("quota") {
            quota = try Self.quota(try JSONFields(fields.object["quota"] as Any, path: "quota"))
        }
        for element in try fields.array("calls") {
            calls.append(try Self.callFault(try JSONFields(element.value, path: element.path)))
        }
        for element in try fields.array("jobs") {
            jobs.append(try Self.jobFault(try JSONFields(element.value, path: element.path)))
        }
    }

    private static func jobDuration(_ fields: JSONFields) throws(SimulatorSettingError) -> JobDurationDistribution {
        let distribution: JobDurationDistribution
        switch try fields.requiredString("distribution") {
        case "fixed":
            try fields.rejectUnknown(["distribution", "ms"])
            distribution = .fixed(.milliseconds(try fields.requiredInt("ms", minimum: 0)))
        case "uniform":
            try fields.rejectUnknown(["distribution", "min_ms", "max_ms", "seed"])
            distribution = .uniform(
                min: .milliseconds(try fields.requiredInt("min_ms", minimum: 0)),
                max: .milliseconds(try fields.requiredInt("max_ms", minimum: 0)), seed: try fields.seed("seed"))
        case "lognormal":
            try fields.rejectUnknown(["distribution", "median_ms", "sigma", "seed"])
            guard let sigma = try fields.double("sigma") else { throw SimulatorSettingError("job_duration.sigma is required") }
            distribution = .logNormal(
                median: .milliseconds(try fields.requiredInt("median_ms", minimum: 1)), sigma: sigma,
                seed: try fields.seed("seed"))
        case let other:
            throw SimulatorSettingError("job_duration.distribution '\(other)' is not fixed, uniform or lognormal")
        }
        try distribution.validate()
        return distribution
    }

    private static func quota(_ fields: JSONFields) throws(SimulatorSettingError) -> Quota {
        try fields.rejectUnknown(["calls", "window_seconds"])
        let quota = Quota(
            calls: try fields.int("calls", minimum: 1), windowSeconds: try fields.int("window_seconds", minimum: 1) ?? 60)
        try quota.validate()
        return quota
    }

    private static func callFault(_ fields: JSONFields) throws(SimulatorSettingError) -> CallFault {
        let common: Set<String> = ["fault", "operation", "count"]
        let kind: CallFault.Kind
        switch try fields.requiredString("fault") {
        case "http_error":
            try fields.rejectUnknown(common.union(["status", "error_code", "message"]))
            let status = try fields.requiredInt("status", minimum: 400)
            guard status <= 599 else { throw SimulatorSettingError("\(fields.path).status must be from 400 to 599") }
            kind = .httpError(
                status: status, errorCode: try fields.string("error_code") ?? defaultErrorCode(status),
                message: try fields.string("message") ?? defaultErrorMessage(status))
        case "close":
            try fields.rejectUnknown(common.union(["reset"]))
            kind = .close(reset: try fields.bool("reset") ?? false)
        case "delay":
            try fields.rejectUnknown(common.union(["delay_ms"]))
            kind = .delay(milliseconds: try fields.requiredInt("delay_ms", minimum: 0))
        case "malformed_json":
            try fields.rejectUnknown(common)
            kind = .malformedJSON
        case "throttle":
            try fields.rejectUnknown(common.union(["retry_after", "retry_after_seconds"]))
            let seconds = try fields.int("retry_after_seconds", minimum: 0) ?? 2
            switch try fields.string("retry_after") ?? "seconds" {
            case "seconds": kind = .throttle(retryAfter: .seconds(seconds))
            case "http_date": kind = .throttle(retryAfter: .httpDate(secondsFromNow: seconds))
            case "garbage": kind = .throttle(retryAfter: .garbage)
            case "none": kind = .throttle(retryAfter: .none)
            case let other:
                throw SimulatorSettingError(
                    "\(fields.path).retry_after '\(other)' is not seconds, http_date, garbage or none")
            }
        case let other:
            throw SimulatorSettingError(
                "\(fields.path).fault '\(other)' is not http_error, close, delay, malformed_json or throttle")
        }
        let operation = try fields.string("operation")
        if let operation, operation != "*", !CallFault.operations.contains(operation) {
            throw SimulatorSettingError(
                "\(fields.path).operation '\(operation)' is not one of \(CallFault.operations.sorted().joined(separator: ", ")) or *")
        }
        return CallFault(
            kind, operation: operation == "*" ? nil : operation, count: try fields.int("count", minimum: 1))
    }

    private static func jobFault(_ fields: JSONFields) throws(SimulatorSettingError) -> JobFault {
        let common: Set<String> = ["fault", "image_id", "count"]
        let kind: JobFault.Kind
        switch try fields.requiredString("fault") {
        case "duration":
            try fields.rejectUnknown(common.union(["duration_ms"]))
            kind = .duration(milliseconds: try fields.requiredInt("duration_ms", minimum: 0))
        case "stuck":
            try fields.rejectUnknown(common)
            kind = .stuck
        case "status_word":
            try fields.rejectUnknown(common.union(["status", "phase"]))
            let word = try fields.requiredString("status")
            let phase = try fields.string("phase") ?? "final"
            guard ["final", "running"].contains(phase) else {
                throw SimulatorSettingError("\(fields.path).phase '\(phase)' is not final or running")
            }
            kind = .statusWord(word, whileRunning: phase == "running")
        case "omit_field":
            try fields.rejectUnknown(common.union(["field", "polls"]))
            let name = try fields.requiredString("field")
            guard let field = JobFault.Field(rawValue: name) else {
                throw SimulatorSettingError("\(fields.path).field '\(name)' is not status or entities")
            }
            kind = .omitField(field, polls: try fields.int("polls", minimum: 1))
        case "not_found":
            try fields.rejectUnknown(common.union(["polls"]))
            kind = .notFound(polls: try fields.requiredInt("polls", minimum: 1))
        case let other:
            throw SimulatorSettingError(
                "\(fields.path).fault '\(other)' is not duration, stuck, status_word, omit_field or not_found")
        }
        return JobFault(kind, imageID: try fields.string("image_id"), count: try fields.int("count", minimum: 1))
    }

    /// The IMS error code of an injected error status. Assumed: no IMS page lists codes for 5xx.
    static func defaultErrorCode(_ status: Int) -> String {
        "IMG.0\(status)"
    }

    static func defaultErrorMessage(_ status: Int) -> String {
        switch status {
        case 500: "Internal server error."
        case 502: "Bad gateway."
        case 503: "Service unavailable."
        case 504: "Gateway timeout."
        default: "Injected error \(status)."
        }
    }
}

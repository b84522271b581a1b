import Foundation

/// How long simulated jobs run, from submit to SUCCESS/FAIL. Seeded distributions give the same
/// sequence of durations for the same seed: the n-th job created after the distribution was set
/// (at start-up or by `PUT /_sim/faults`) gets the n-th draw.
///
/// Text form (the `--job-duration` flag): `MS` or `fixed:MS`, `uniform:MIN_MS,MAX_MS[,SEED]`,
/// `lognormal:MEDIAN_MS,SIGMA[,SEED]`; a missing seed is 1. JSON form (`job_duration` in a fault
/// plan): `{"distribution": "fixed", "ms": 2000}`,
/// `{"distribution": "uniform", "min_ms": 500, "max_ms": 4000, "seed": 7}`,
/// `{"distribution": "lognormal", "median_ms": 3000, "sigma": 0.5, "seed": 42}`.
public enum JobDurationDistribution: Sendable, Equatable, CustomStringConvertible {
    /// Every job takes this long.
    case fixed(Duration)
    /// Uniform between `min` and `max` (inclusive), drawn with `seed`.
    case uniform(min: Duration, max: Duration, seed: UInt64)
    /// Log-normal: `median · e^(sigma · Z)` with Z standard normal, drawn with `seed`; half the
    /// jobs take less than `median`, and `sigma` is the standard deviation of the logarithm.
    case logNormal(median: Duration, sigma: Double, seed: UInt64)

    /// The seed of a random distribution; `nil` for ``fixed(_:)``.
    public var seed: UInt64? {
        switch self {
        case .fixed: nil
        case .uniform(_, _, let seed), .logNormal(_, _, let seed): seed
        }
    }

    /// Parses the text form, e.g. `lognormal:3000,0.5,42` (milliseconds, sigma, seed).
    /// - Throws: ``SimulatorSettingError`` naming the bad part.
    public init(parsing text: String) throws(SimulatorSettingError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let (name, rest): (String, String) =
            if let colon = trimmed.firstIndex(of: ":") {
                (String(trimmed[..<colon]), String(trimmed[trimmed.index(after: colon)...]))
            } else {
                ("fixed", trimmed)
            }
        let arguments = rest.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        func number(_ index: Int, _ what: String) throws(SimulatorSettingError) -> Double {
            guard index < arguments.count, let value = Double(arguments[index]), value.isFinite, value >= 0 else {
                throw SimulatorSettingError("job duration '\(text)': \(what) must be a number, at least 0")
            }
            return value
        }
        func seed(_ index: Int) throws(SimulatorSettingError) -> UInt64 {
            guard index < arguments.count else { return 1 }
            guard let value = UInt64(arguments[index]) else {
                throw SimulatorSettingError("job duration '\(text)': the seed must be an unsigned integer")
            }
            return value
        }
        let distribution: JobDurationDistribution
        switch name {
        case "fixed" where arguments.count == 1:
            distribution = .fixed(.milliseconds(try number(0, "the duration in ms")))
        case "uniform" where (2...3).contains(arguments.count):
            distribution = .uniform(
                min: .milliseconds(try number(0, "the minimum in ms")),
                max: .milliseconds(try number(1, "the maximum in ms")), seed: try seed(2))
        case "lognormal" where (2...3).contains(arguments.count):
            distribution = .logNormal(
                median: .milliseconds(try number(0, "the median in ms")), sigma: try number(1, "sigma"),
                seed: try seed(2))
        default:
            throw SimulatorSettingError(
                "job duration '\(text)': expected MS, fixed:MS, uniform:MIN_MS,MAX_MS[,SEED] or lognormal:MEDIAN_MS,SIGMA[,SEED]")
        }
        try distribution.validate()
        self = distribution
    }

    /// Checks the parameters: a uniform minimum not above its maximum, a positive median.
    /// - Throws: ``SimulatorSettingError`` saying which one is wrong.
    public func validate() throws(SimulatorSettingError) {
        switch self {
        case .fixed(let duration):
            guard duration >= .zero else { throw SimulatorSettingError("a fixed job duration must not be negative") }
        case .uniform(let min, let max, _):
            guard min >= .zero, min <= max else {
                throw SimulatorSettingError("a uniform job duration needs 0 <= min_ms <= max_ms")
            }
        case .logNormal(let median, let sigma, _):
            guard median > .zero, sigma >= 0, sigma.isFinite else {
                throw SimulatorSettingError("a log-normal job duration needs median_ms > 0 and sigma >= 0")
            }
        }
    }

    /// The text form, e.g. `lognormal:3000,0.5,42`.
    public var description: String {
        func ms(_ duration: Duration) -> String {
            let value = duration.inMilliseconds
            return value == value.rounded() ? String(Int(value)) : String(value)
        }
        return switch self {
        case .fixed(let duration): "fixed:\(ms(duration))"
        case .uniform(let min, let max, let seed): "uniform:\(ms(min)),\(ms(max)),\(seed)"
        case .logNormal(let median, let sigma, let seed): "lognormal:\(ms(median)),\(sigma),\(seed)"
        }
    }
}

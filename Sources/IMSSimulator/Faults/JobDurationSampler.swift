import Foundation

/// Draws job durations from a ``JobDurationDistribution``, in order; two samplers of the same
/// distribution (same seed) draw the same sequence. No I/O and no clock: a pure sequence.
public struct JobDurationSampler: Sendable {
    /// The distribution drawn from.
    public let distribution: JobDurationDistribution
    private var generator: SplitMix64

    /// A sampler at the start of `distribution`'s sequence.
    public init(_ distribution: JobDurationDistribution) {
        self.distribution = distribution
        self.generator = SplitMix64(seed: distribution.seed ?? 0)
    }

    /// The next duration of the sequence (never negative).
    public mutating func next() -> Duration {
        switch distribution {
        case .fixed(let duration):
            return duration
        case .uniform(let min, let max, _):
            let low = min.inMilliseconds
            let high = max.inMilliseconds
            return .milliseconds(low + (high - low) * generator.nextUnit())
        case .logNormal(let median, let sigma, _):
            return .milliseconds(median.inMilliseconds * exp(sigma * standardNormal()))
        }
    }

    /// Box–Muller: one standard normal draw from two uniform ones (the second value is dropped
    /// so that every job takes exactly two draws and the sequence stays simple to reason about).
    private mutating func standardNormal() -> Double {
        let u1 = 1 - generator.nextUnit()  // (0, 1]: log(u1) is finite
        let u2 = generator.nextUnit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

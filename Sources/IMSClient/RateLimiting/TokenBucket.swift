/// A token bucket: `burst` tokens at most, refilled continuously at `rate` tokens per second.
/// Each admitted call takes one token; a call that finds less than one token is refused with the
/// exact time until one exists.
///
/// The bucket keeps its tokens as an exact integer count of fractional units (see
/// ``TokenBucketLimits``) refilled from the elapsed time in attoseconds, so that a bucket under a
/// steady overload admits exactly `burst + rate × elapsed seconds` (rounded down) calls, however
/// long it runs: no floating-point error accumulates. Time comes from the caller (`now`), never
/// from a clock of its own, so the bucket is a pure state machine that tests drive by hand.
public struct TokenBucket<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// The limits in force (rate as an exact fraction, burst clamped).
    private var limits: TokenBucketLimits
    /// Tokens held, in units of `1 / limits.unitsPerToken` token.
    private var units: Int128
    /// The latest instant the bucket has been brought up to; an earlier `now` adds nothing.
    private var updated: Instant

    /// The rate applied, in tokens per second: the requested rate clamped to
    /// ``TokenBucketLimits/minimumRate``...``TokenBucketLimits/maximumRate`` and taken as the nearest
    /// fraction with a denominator of at most ``TokenBucketLimits/maximumDenominator`` (exact for
    /// rates such as 5, 0.5, 2.5 or 1/3).
    public var rate: Double { limits.rate }

    /// The capacity in tokens: the requested burst clamped to 1...``TokenBucketLimits/maximumBurst``.
    public var burst: Int { limits.burst }

    /// Creates a full bucket.
    /// - Parameters:
    ///   - rate: refill rate in tokens per second; a rate that is not finite or not positive
    ///     becomes ``TokenBucketLimits/minimumRate`` (one token per 1,000,000 seconds), one above
    ///     ``TokenBucketLimits/maximumRate`` becomes that maximum. Never traps.
    ///   - burst: capacity in tokens; below 1 becomes 1, above ``TokenBucketLimits/maximumBurst``
    ///     becomes that maximum.
    ///   - now: the current instant of the caller's clock.
    public init(rate: Double, burst: Int, now: Instant) {
        limits = TokenBucketLimits(rate: rate, burst: burst)
        units = limits.fullUnits
        updated = now
    }

    /// The answer to ``take(now:)``.
    public enum Decision: Sendable, Equatable {
        /// A token was taken; `remaining` whole tokens are left.
        case admitted(remaining: Int)
        /// No whole token was available; one exists after `retryAfter` (exact, rounded up to the
        /// next attosecond).
        case refused(retryAfter: Duration)
    }

    /// Takes one token if at least one whole token is available at `now`.
    /// - Parameter now: the current instant; an instant earlier than one seen before adds no tokens.
    /// - Returns: `.admitted` with the whole tokens left, or `.refused` with the time until one
    ///   token exists.
    public mutating func take(now: Instant) -> Decision {
        refill(now: now)
        let unitsPerToken = limits.unitsPerToken
        guard units >= unitsPerToken else {
            return .refused(retryAfter: limits.duration(toGain: unitsPerToken - units))
        }
        units -= unitsPerToken
        return .admitted(remaining: Int(units / unitsPerToken))
    }

    /// The tokens available at `now` (fractional, at most `burst`), without taking any.
    /// - Parameter now: the current instant; an instant earlier than one seen before adds no tokens.
    public func available(now: Instant) -> Double {
        var bucket = self
        bucket.refill(now: now)
        let (whole, fraction) = bucket.units.quotientAndRemainder(dividingBy: limits.unitsPerToken)
        return Double(whole) + Double(fraction) / Double(limits.unitsPerToken)
    }

    /// The time from `now` until the bucket is full again (`.zero` when it is full), exact and
    /// rounded up to the next attosecond, assuming no token is taken meanwhile.
    /// - Parameter now: the current instant; an instant earlier than one seen before adds no tokens.
    public func durationUntilFull(now: Instant) -> Duration {
        var bucket = self
        bucket.refill(now: now)
        return limits.duration(toGain: limits.fullUnits - bucket.units)
    }

    /// Applies new limits from `now` on: tokens earned until `now` are counted at the old rate,
    /// then the bucket keeps `min(current tokens, new burst)`; it never gains tokens by a resize.
    /// - Parameters:
    ///   - rate: new refill rate in tokens per second, clamped as in ``init(rate:burst:now:)``.
    ///   - burst: new capacity in tokens, clamped as in ``init(rate:burst:now:)``.
    ///   - now: the current instant.
    public mutating func resize(rate: Double, burst: Int, now: Instant) {
        refill(now: now)
        let old = limits
        let new = TokenBucketLimits(rate: rate, burst: burst)
        guard new != old else { return }
        // Converts to the new unit rounding down; `fraction × seconds` stays below 2^100.
        let (whole, fraction) = units.quotientAndRemainder(dividingBy: old.unitsPerToken)
        let converted = whole * new.unitsPerToken + fraction * Int128(new.seconds) / Int128(old.seconds)
        limits = new
        units = min(converted, new.fullUnits)
    }

    /// Adds the tokens earned between the last update and `now`, up to `burst`.
    private mutating func refill(now: Instant) {
        guard updated < now else { return }
        let elapsed = updated.duration(to: now).attoseconds
        updated = now
        let missing = limits.fullUnits - units
        guard missing > 0 else { return }
        // Compared in time first, so that the product below cannot overflow.
        if elapsed >= limits.attoseconds(toGain: missing) {
            units = limits.fullUnits
        } else {
            units += elapsed * Int128(limits.tokens)
        }
    }
}

/// The limits of a ``TokenBucket`` in exact integer terms: the rate is the fraction
/// `tokens / seconds` (tokens per second) and a token is divided into `seconds × 10^18` units, so
/// that one attosecond earns exactly `tokens` units. Every product the bucket forms stays well
/// inside `Int128`.
package struct TokenBucketLimits: Sendable, Equatable {
    /// The lowest rate, in tokens per second (one token per 1,000,000 seconds); a rate that is not
    /// finite or not positive becomes this.
    package static let minimumRate = 0.000_001
    /// The highest rate, in tokens per second.
    package static let maximumRate = 1_000_000_000.0
    /// The largest capacity, in tokens.
    package static let maximumBurst = 1_000_000_000
    /// The largest denominator of the rate fraction: rates are exact to within 1 / 1,000,000 of a
    /// token per second (exactly for fractions like 5, 2.5, 0.3 or 1/3).
    package static let maximumDenominator: Int64 = 1_000_000

    private static let attosecondsPerSecond: Int128 = 1_000_000_000_000_000_000

    /// Numerator of the rate: tokens earned every `seconds` seconds.
    package let tokens: Int64
    /// Denominator of the rate, in seconds (1...maximumDenominator).
    package let seconds: Int64
    /// Capacity in tokens (1...maximumBurst).
    package let burst: Int

    /// Clamps `rate` (tokens per second) and `burst` (tokens) and finds the rate's fraction.
    package init(rate: Double, burst: Int) {
        let clamped =
            rate.isFinite && rate > 0 ? min(max(rate, Self.minimumRate), Self.maximumRate) : Self.minimumRate
        (tokens, seconds) = Self.fraction(clamped)
        self.burst = min(max(burst, 1), Self.maximumBurst)
    }

    /// The rate applied, in tokens per second.
    package var rate: Double { Double(tokens) / Double(seconds) }

    /// Units in one token.
    package var unitsPerToken: Int128 { Int128(seconds) * Self.attosecondsPerSecond }

    /// Units in a full bucket.
    package var fullUnits: Int128 { Int128(burst) * unitsPerToken }

    /// Whole seconds an empty bucket takes to fill, rounded up, at least 1: the window `w` of a
    /// `RateLimit-Policy` field.
    package var refillSeconds: Int {
        let exact = Int128(burst) * Int128(seconds)
        return max(1, Int((exact + Int128(tokens) - 1) / Int128(tokens)))
    }

    /// Attoseconds needed to earn `units` (rounded up).
    func attoseconds(toGain units: Int128) -> Int128 {
        guard units > 0 else { return 0 }
        return (units + Int128(tokens) - 1) / Int128(tokens)
    }

    /// The time needed to earn `units`, rounded up to the next attosecond.
    func duration(toGain units: Int128) -> Duration {
        Duration(attoseconds: attoseconds(toGain: units))
    }

    /// The fraction `tokens / seconds` nearest to `rate` with `seconds <= maximumDenominator`:
    /// the first continued-fraction convergent that converts back to exactly `rate`, else the last
    /// convergent within the denominator limit. `rate` must be in minimumRate...maximumRate.
    private static func fraction(_ rate: Double) -> (tokens: Int64, seconds: Int64) {
        // Convergents h/k: (h0/k0, h1/k1) are the two latest, seeded with 0/1 and 1/0.
        var (h0, h1): (Int64, Int64) = (0, 1)
        var (k0, k1): (Int64, Int64) = (1, 0)
        var remainder = rate
        while true {
            let term = remainder.rounded(.down)
            // The first term is the integer part (at most maximumRate); later ones must keep the
            // denominator within its limit, which also bounds every product below.
            guard k1 == 0 || term <= Double(maximumDenominator) else { break }
            let a = Int64(term)
            let k2 = a * k1 + k0
            guard k2 <= maximumDenominator else { break }
            (h0, h1, k0, k1) = (h1, a * h1 + h0, k1, k2)
            if Double(h1) / Double(k1) == rate { break }
            let fractional = remainder - term
            guard fractional > 0 else { break }
            remainder = 1 / fractional
        }
        return h1 > 0 ? (h1, k1) : (1, maximumDenominator)
    }
}

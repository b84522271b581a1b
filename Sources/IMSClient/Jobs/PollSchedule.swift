/// When to poll a job: a first delay, then delays growing by a factor up to a cap, each
/// spread by ± `jitter` so that many waiters do not poll in step. The last poll is trimmed to
/// land `finalPollMargin` before the deadline.
public struct PollSchedule: Sendable, Equatable {
    /// Delay between submit and the first poll; zero polls at once (for an IMS whose jobs
    /// usually end within the submit's round trip), and the second poll then comes
    /// ``repeatDelayAfterImmediatePoll`` later.
    public var initialDelay: Duration
    /// Delay between the first and the second poll; nil for `initialDelay × growthFactor`.
    /// A learned schedule (``AdaptivePollPlanner``) puts the first poll near the expected end of
    /// the job and polls in short steps after it.
    public var secondDelay: Duration?
    /// Each later delay is the previous one times this factor (≥ 1).
    public var growthFactor: Double
    /// The longest delay between two polls.
    public var maxDelay: Duration
    /// Relative spread of each delay, 0 to 0.5 (0.1 = ±10 %).
    public var jitter: Double
    /// How long before the deadline the last poll is sent.
    public var finalPollMargin: Duration

    /// The second delay of a schedule whose first delay is zero (50 ms), so that polls never
    /// follow each other without a pause.
    public static let repeatDelayAfterImmediatePoll: Duration = .milliseconds(50)

    /// Creates a schedule (defaults of docs/ARCHITECTURE.md, "Defaults": 1 s, x1.5, 10 s).
    public init(
        initialDelay: Duration = .seconds(1),
        growthFactor: Double = 1.5,
        maxDelay: Duration = .seconds(10),
        jitter: Double = 0.1,
        finalPollMargin: Duration = .milliseconds(100)
    ) {
        self.initialDelay = initialDelay
        self.growthFactor = max(1, growthFactor)
        self.maxDelay = max(maxDelay, initialDelay)
        self.jitter = min(max(0, jitter), 0.5)
        self.finalPollMargin = finalPollMargin
    }

    /// The delay before poll number `index` (0 = first poll), without jitter.
    public func baseDelay(beforePoll index: Int) -> Duration {
        guard index > 0 else { return initialDelay }
        // After an immediate first poll the pauses are at least 50 ms, whatever the cap.
        let immediate = initialDelay == .zero
        let second = immediate ? Self.repeatDelayAfterImmediatePoll : initialDelay * growthFactor
        let cap = immediate ? max(maxDelay, Self.repeatDelayAfterImmediatePoll) : maxDelay
        var delay = min(secondDelay ?? second, cap)
        var remaining = index - 1
        while remaining > 0 && delay < cap {
            delay = min(delay * growthFactor, cap)
            remaining -= 1
        }
        return delay
    }

    /// `baseDelay` spread by a random factor in `1 ± jitter`.
    public func delay(beforePoll index: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let base = baseDelay(beforePoll: index)
        guard jitter > 0 else { return base }
        return base * Double.random(in: (1 - jitter)...(1 + jitter), using: &generator)
    }
}

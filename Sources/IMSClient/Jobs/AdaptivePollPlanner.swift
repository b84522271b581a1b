import Foundation
import Synchronization

/// Learns when to poll jobs (docs/ARCHITECTURE.md, "Waiting": poll delays are learned from
/// earlier jobs).
///
/// Per batch-size class (1, 2-5, 6-20, 21-100, more images) it keeps the delay of the first
/// poll, tuned so that a set share of jobs (`targetQuantile`, 35 % by default) is already
/// final at the first poll: a first poll that finds the job final moves the delay down, one
/// that finds it running moves it up (a stochastic-approximation quantile estimate, in log
/// space, whose gain shrinks as 2 / (n + 20) down to `learningRate`, so that the waves of
/// observations many simultaneous requests bring do not make it swing). So the first poll lands just before the typical end of a job, and later polls
/// follow in short steps (`stepShare` of the first delay, growing by `stepGrowth`) up to the
/// base schedule's cap, once the first polls find jobs final at least a quarter as often as the
/// target share (before that, the base growth follows the learned first poll). The job's own
/// `begin_time`/`end_time` are not used: IMS gives them in no fixed format. Until a class has
/// `minimumObservations`, the base schedule is used.
///
/// On log-normal job durations (median 3 s, sigma 0.5) this gives about 3 polls per job and
/// a median of about 0.3 s between a job's end and the poll that sees it (BENCHMARKS.md).
public final class AdaptivePollPlanner: Sendable {
    /// The schedule before anything is learned, and the cap and jitter of every schedule.
    public let base: PollSchedule
    /// Share of jobs that should be final at the first poll (0.05 to 0.95).
    public let targetQuantile: Double
    /// The smallest step of a correction of the first delay, in natural-log units.
    public let learningRate: Double
    /// Observations of a class before its learned delay is used.
    public let minimumObservations: Int
    /// The delay between later polls, as a share of the first delay.
    public let stepShare: Double
    /// Growth of the delay between later polls.
    public let stepGrowth: Double

    private struct Learned {
        /// Natural log of the first delay, in seconds.
        var logFirstDelay: Double
        var observations = 0
        /// The share of recent first polls that found the job final (a running mean for the
        /// first 20 observations, then a moving average of the last 20 or so).
        var finalShare = 0.0
    }

    private let classes: Mutex<[Int: Learned]>

    /// - Parameters:
    ///   - base: the schedule used until a class is learned (default 1 s, x1.5, cap 10 s).
    ///   - targetQuantile: share of jobs final at the first poll (default 0.35).
    ///   - learningRate: the floor of the correction per observation, in log units (default 0.005).
    ///   - minimumObservations: observations of a class before its learned delay is used.
    ///   - stepShare: later delays start at this share of the first delay (default 0.1).
    ///   - stepGrowth: and grow by this factor (default 1.1) up to `base.maxDelay`.
    public init(
        base: PollSchedule, targetQuantile: Double = 0.35, learningRate: Double = 0.005, minimumObservations: Int = 5,
        stepShare: Double = 0.1, stepGrowth: Double = 1.1
    ) {
        self.base = base
        self.targetQuantile = min(max(targetQuantile, 0.05), 0.95)
        self.learningRate = max(0.001, learningRate)
        self.minimumObservations = max(0, minimumObservations)
        self.stepShare = max(0.01, stepShare)
        self.stepGrowth = max(1, stepGrowth)
        self.classes = Mutex([:])
    }

    /// The batch-size class of a job of `images` images.
    static func sizeClass(images: Int) -> Int {
        switch images {
        case ...1: return 1
        case 2...5: return 5
        case 6...20: return 20
        case 21...100: return 100
        default: return Int.max
        }
    }

    /// The schedule for a job of `images` images.
    public func schedule(forImages images: Int) -> PollSchedule {
        let learned = classes.withLock { $0[Self.sizeClass(images: images)] }
        guard let learned, learned.observations >= minimumObservations else { return base }
        var schedule = base
        let seconds = Foundation.exp(learned.logFirstDelay)
        schedule.initialDelay = min(Self.duration(seconds: seconds), base.maxDelay)
        // Short steps only once first polls find jobs final about as often as the target
        // says: then the job is likely to end soon after the first poll. While they almost never
        // do, the learned delay is only a lower bound of the jobs' durations (it climbs a few
        // per cent per observation), and the base schedule's growth follows it instead; short
        // steps there made 20 to 30 polls of a 30 s job (BENCHMARKS.md, "The store's CPU").
        guard learned.finalShare >= targetQuantile / 4 else { return schedule }
        schedule.secondDelay = max(.milliseconds(50), Self.duration(seconds: seconds * stepShare))
        schedule.growthFactor = stepGrowth
        return schedule
    }

    /// Learns from a wait whose first poll was sent at its scheduled time.
    /// - Parameters:
    ///   - images: the job's batch size.
    ///   - firstDelay: the delay after which the first poll was sent.
    ///   - foundFinal: whether that poll found the job final.
    public func observe(images: Int, firstDelay: Duration, foundFinal: Bool) {
        let seconds = Double(firstDelay.wholeNanoseconds) / 1e9
        guard seconds > 0 else { return }
        classes.withLock { classes in
            let key = Self.sizeClass(images: images)
            // A class starts from the delay actually used, so the first corrections are small.
            var learned = classes[key] ?? Learned(logFirstDelay: Foundation.log(seconds))
            let correction = foundFinal ? -(1 - targetQuantile) : targetQuantile
            let gain = max(learningRate, 2 / Double(learned.observations + 20))
            learned.logFirstDelay += gain * correction
            // Between 10 ms and the base cap: a wild run of observations cannot push it away.
            let cap = Double(base.maxDelay.wholeNanoseconds) / 1e9
            learned.logFirstDelay = min(max(learned.logFirstDelay, Foundation.log(0.01)), Foundation.log(max(cap, 0.01)))
            let shareGain = max(0.05, 1 / Double(learned.observations + 1))
            learned.finalShare += shareGain * ((foundFinal ? 1 : 0) - learned.finalShare)
            learned.observations += 1
            classes[key] = learned
        }
    }

    private static func duration(seconds: Double) -> Duration {
        .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
}

import IMSClient
import Synchronization

/// One due-time queue for the whole gateway (docs/ARCHITECTURE.md, "The request lifecycle"):
/// every job poll that any request waits for, and every request's next timer (a caller's
/// deadline, the drain or background deadline, a submit's backoff). One loop (``run()``) sleeps
/// until the earliest entry is due, starts the polls that are due (each its own IMS call, which
/// waits for the account's call budget in the fair-share order of docs/ARCHITECTURE.md, "The
/// IMS call budget", and honours IMS's `Retry-After` through it) and fires the timers. A
/// waiting request holds no task of its own: its driver is called back.
///
/// A job is polled by one call at a time whatever the number of requests waiting on it: polls
/// of the same job scheduled by several subscribers are merged (the earliest instant wins) and
/// every subscriber gets the answer. Time comes from an injected clock whose instants are
/// `ContinuousClock` instants, the one clock type from the controller to libcurl.
final class JobScheduler: Sendable {
    /// One job query to make.
    struct Poll: Sendable {
        var projectID: String
        var jobID: String
        /// Bounds the call (budget wait included).
        var deadline: ContinuousClock.Instant
        var correlationID: String?
        var priority: UpstreamPriority
        var caller: UpstreamCaller
    }

    /// Told the poll's outcome and the instant it came.
    typealias Delivery = @Sendable (PollOutcome, ContinuousClock.Instant) -> Void

    private struct JobKey: Hashable {
        var projectID: String
        var jobID: String
    }

    private enum EntryKey: Hashable {
        case poll(JobKey)
        case timer(String)
    }

    private struct QueuedPoll {
        var poll: Poll
        var due: ContinuousClock.Instant
        var subscribers: [String: Delivery]
        var generation: UInt64
    }

    private struct Timer {
        var due: ContinuousClock.Instant
        var fire: @Sendable (ContinuousClock.Instant) -> Void
        var generation: UInt64
    }

    private struct State {
        var queue = DueQueue<EntryKey>()
        var polls: [JobKey: QueuedPoll] = [:]
        /// Polls sent and not answered yet, with whoever waits for their answer.
        var inFlight: [JobKey: [String: Delivery]] = [:]
        var timers: [String: Timer] = [:]
        var generation: UInt64 = 0
        /// The loop, while it sleeps: resumed by an entry due before `sleepingUntil`.
        var wake: CheckedContinuation<Void, Never>?
        var sleepingUntil: ContinuousClock.Instant?
        /// The tasks that sleep on the clock to wake the loop, by id, with their instants, and
        /// the earliest of those instants. They are not cancelled when the loop is woken earlier
        /// (that would make and drop one clock timer per wake-up, and a cancelled sleep still
        /// holds libdispatch's timer until its instant): a new one is made only for an instant
        /// earlier than every one waiting, so at most one waits per distinct later instant.
        var sleepers: [UInt64: (task: Task<Void, Never>, due: ContinuousClock.Instant)] = [:]
        var sleeperDue: ContinuousClock.Instant?
        var nextSleeper: UInt64 = 0
        var pollsSent = 0
    }

    private let jobs: any IMSJobs
    private let clock: any GatewayClock
    private let state = Mutex(State())

    /// - Parameters:
    ///   - jobs: what polls: ``IMSClient`` in production, a fake in tests.
    ///   - clock: the clock due times are read on (`ContinuousClock` in production).
    init(jobs: any IMSJobs, clock: any GatewayClock) {
        self.jobs = jobs
        self.clock = clock
    }

    /// The clock's current instant.
    var now: ContinuousClock.Instant { clock.now }

    /// Polls queued (not yet sent) and in flight.
    var pollsWaiting: (queued: Int, inFlight: Int) { state.withLock { ($0.polls.count, $0.inFlight.count) } }

    /// Job queries sent so far.
    var pollsSent: Int { state.withLock { $0.pollsSent } }

    /// Asks for `poll` at `due`; `subscriber` (unique per request and batch) gets the answer.
    /// A poll of the same job already queued is merged with it: the earlier instant, the more
    /// urgent priority and the later deadline win. While the job's poll is in flight, the
    /// subscriber gets that poll's answer.
    func schedule(_ poll: Poll, at due: ContinuousClock.Instant, subscriber: String, deliver: @escaping Delivery) {
        let key = JobKey(projectID: poll.projectID, jobID: poll.jobID)
        let now = clock.now
        var sendNow = false
        let wake = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.inFlight[key] != nil, state.inFlight[key]?[subscriber] == nil {
                state.inFlight[key]?[subscriber] = deliver
                return nil
            }
            if due <= now, state.polls[key] == nil, state.inFlight[key] == nil {
                // Due already and not queued: sent from here, without a turn of the loop.
                state.inFlight[key] = [subscriber: deliver]
                state.pollsSent += 1
                sendNow = true
                return nil
            }
            state.generation += 1
            var entry = state.polls[key] ?? QueuedPoll(poll: poll, due: due, subscribers: [:], generation: 0)
            if state.polls[key] != nil {
                entry.due = min(entry.due, due)
                entry.poll.priority = min(entry.poll.priority, poll.priority)
                entry.poll.deadline = max(entry.poll.deadline, poll.deadline)
            }
            entry.subscribers[subscriber] = deliver
            entry.generation = state.generation
            state.polls[key] = entry
            Self.push(.poll(key), at: entry.due, &state)
            return Self.wakeIfEarlier(entry.due, &state)
        }
        wake?.resume()
        if sendNow { Task { await self.send(poll, key: key) } }
    }

    /// Drops `subscriber` from the queued and in-flight polls of `projectID`/`jobID` (a
    /// request that stopped); a poll nobody waits for is not sent.
    func unsubscribe(_ subscriber: String, projectID: String, jobID: String) {
        let key = JobKey(projectID: projectID, jobID: jobID)
        state.withLock { state in
            state.inFlight[key]?[subscriber] = nil
            state.polls[key]?.subscribers[subscriber] = nil
            if state.polls[key]?.subscribers.isEmpty == true { state.polls[key] = nil }
        }
    }

    /// Sets the timer `key` to fire at `due` (replacing the one it had), or cancels it (nil).
    func setTimer(_ key: String, at due: ContinuousClock.Instant?, fire: @escaping @Sendable (ContinuousClock.Instant) -> Void) {
        let wake = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let due else {
                state.timers[key] = nil
                return nil
            }
            if let timer = state.timers[key], timer.due == due { return nil }
            state.generation += 1
            state.timers[key] = Timer(due: due, fire: fire, generation: state.generation)
            Self.push(.timer(key), at: due, &state)
            return Self.wakeIfEarlier(due, &state)
        }
        wake?.resume()
    }

    /// The loop: runs until its task is cancelled.
    func run() async {
        await withTaskCancellationHandler {
            while !Task.isCancelled {
                let next = fireDue()
                await sleep(until: next)
            }
        } onCancel: {
            let (wake, sleepers) = state.withLock { state in
                defer {
                    state.wake = nil
                    state.sleepers = [:]
                    state.sleeperDue = nil
                }
                return (state.wake, state.sleepers.values.map(\.task))
            }
            for sleeper in sleepers { sleeper.cancel() }
            wake?.resume()
        }
    }

    /// Starts every poll and fires every timer due now.
    /// - Returns: when the next entry is due, if any.
    private func fireDue() -> ContinuousClock.Instant? {
        let now = clock.now
        var polls: [(JobKey, Poll)] = []
        var timers: [@Sendable (ContinuousClock.Instant) -> Void] = []
        let next = state.withLock { state -> ContinuousClock.Instant? in
            while let (key, due, generation) = state.queue.peek(), due <= now {
                state.queue.pop()
                switch key {
                case .poll(let job):
                    guard let entry = state.polls[job], entry.generation == generation else { continue }
                    state.polls[job] = nil
                    if state.inFlight[job] != nil {
                        // Answered soon: its subscribers take that answer.
                        state.inFlight[job]?.merge(entry.subscribers) { $1 }
                        continue
                    }
                    state.inFlight[job] = entry.subscribers
                    state.pollsSent += 1
                    polls.append((job, entry.poll))
                case .timer(let name):
                    guard let timer = state.timers[name], timer.generation == generation else { continue }
                    state.timers[name] = nil
                    timers.append(timer.fire)
                }
            }
            return state.queue.peek()?.1
        }
        for (key, poll) in polls {
            Task { await self.send(poll, key: key) }
        }
        for fire in timers { fire(now) }
        return next
    }

    /// Sends one job query and hands its answer to every subscriber.
    private func send(_ poll: Poll, key: JobKey) async {
        let outcome: PollOutcome
        do throws(IMSClientError) {
            outcome = .job(try await jobs.showJob(
                projectID: poll.projectID, jobID: poll.jobID, deadline: poll.deadline, correlationID: poll.correlationID,
                priority: poll.priority, caller: poll.caller))
        } catch {
            switch error {
            case .authentication:
                outcome = .authenticationFailed(errorCode: error.errorCode, message: "\(error)")
            case .throttled(nil, _):
                // Not sent at all (no budget token or no time left): not a poll.
                outcome = .failed(message: "\(error)", sent: false)
            default:
                outcome = .failed(message: "\(error)", sent: true)
            }
        }
        let subscribers = state.withLock { $0.inFlight.removeValue(forKey: key) } ?? [:]
        let now = clock.now
        for deliver in subscribers.values { deliver(outcome, now) }
    }

    /// Suspends until `until` (forever when nil) or until an earlier entry is scheduled.
    private func sleep(until: ContinuousClock.Instant?) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if Task.isCancelled { return true }
                if let due = state.queue.peek()?.1, until.map({ due < $0 }) ?? true { return true }
                state.wake = continuation
                state.sleepingUntil = until
                // A sleeper due at or before `until` wakes the loop in time (an earlier one
                // wakes it for nothing, and it sleeps again).
                guard let until, state.sleeperDue.map({ until < $0 }) ?? true else { return false }
                state.nextSleeper += 1
                let id = state.nextSleeper
                state.sleeperDue = until
                let task = Task { [clock] in
                    try? await clock.sleep(until: until, tolerance: nil)
                    let wake = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                        state.sleepers[id] = nil
                        // The sleepers still waiting (for later instants) keep theirs.
                        state.sleeperDue = state.sleepers.values.map(\.due).min()
                        defer {
                            state.wake = nil
                            state.sleepingUntil = nil
                        }
                        return state.wake
                    }
                    wake?.resume()
                }
                state.sleepers[id] = (task, until)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Queues `key` at `due` with the current generation, and drops the stale entries once
    /// they outnumber the live ones (amortized O(1) per push).
    private static func push(_ key: EntryKey, at due: ContinuousClock.Instant, _ state: inout State) {
        state.queue.push(key, at: due, generation: state.generation)
        guard state.queue.count > 2 * (state.polls.count + state.timers.count) + 64 else { return }
        state.queue.compact { key, generation in
            switch key {
            case .poll(let job): return state.polls[job]?.generation == generation
            case .timer(let name): return state.timers[name]?.generation == generation
            }
        }
    }

    /// The sleeping loop's continuation, taken, when `due` comes before it would wake.
    private static func wakeIfEarlier(_ due: ContinuousClock.Instant, _ state: inout State) -> CheckedContinuation<Void, Never>? {
        guard let wake = state.wake, state.sleepingUntil.map({ due < $0 }) ?? true else { return nil }
        state.wake = nil
        state.sleepingUntil = nil
        return wake
    }
}

/// Where ``BatchRunner`` writes ahead what it is about to do and what IMS answered, so that a
/// crash loses no job id (docs/ARCHITECTURE.md, "State and recovery").
protocol BatchJournal: Sendable {
    /// Stores the submit attempt `batch.submitAttempts` before its PUT is sent.
    /// - Returns: false when the store could not be written within `deadline`: the PUT must
    ///   not be sent.
    func willSubmit(_ batch: BatchResult, deadline: ContinuousClock.Instant) async -> Bool

    /// Stores the job id IMS gave `batch` (retried until it lands; never lost).
    func submitted(_ batch: BatchResult, attempt: Int) async
}

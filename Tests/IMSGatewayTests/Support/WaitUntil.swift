import Testing

/// Waits, checking every 20 ms, until `condition` holds, for at most `timeout` (real time); then
/// records an issue naming `what`. For the tests that must act once something has happened on
/// a real server (a caller admitted, a submit made): a fixed sleep before the act is a race
/// on a loaded machine.
func waitUntil(
    _ what: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let started = ContinuousClock.now
    while started.duration(to: .now) < timeout {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("not within \(timeout): \(what)", sourceLocation: sourceLocation)
}

extension GatewayHarness {
    /// Whether the gateway's `imsgw_callers_waiting` gauge reads `count`.
    func callersWaiting(_ count: Int) async throws -> Bool {
        let metrics = String(decoding: try await get("/metrics").body, as: UTF8.self)
        return metrics.split(separator: "\n").contains("imsgw_callers_waiting \(count).0"[...])
    }
}

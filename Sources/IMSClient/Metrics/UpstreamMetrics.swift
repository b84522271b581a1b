import CoreMetrics

/// Counters and timers of the gateway's calls to IMS and IAM, through swift-metrics.
///
/// Names follow Prometheus conventions: `imsgw_upstream_calls_total{operation,status}`,
/// `imsgw_upstream_call_duration_seconds{operation}`, `imsgw_token_refreshes_total{result}`,
/// `imsgw_rate_limited_total{direction="upstream"}`, `imsgw_upstream_pauses_total`,
/// `imsgw_upstream_pause_duration_seconds`. Labels never carry a secret, a token or
/// an id: `operation` is an API name, `status` an HTTP status or a transport failure kind.
public struct UpstreamMetrics: Sendable {
    private let factory: any MetricsFactory
    private let calls = MetricCache<MetricLabels, Counter>()
    private let durations = MetricCache<String, Timer>()

    /// Metrics created through `factory`.
    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Metrics that go nowhere (tests, tools).
    public static let disabled = UpstreamMetrics(factory: NOOPMetricsHandler.instance)

    /// One finished upstream call.
    /// - Parameters:
    ///   - operation: e.g. `BatchUpdateMembers`, `ShowJob`, `KeystoneCreateUserTokenByPassword`.
    ///   - status: the HTTP status, or `transport_<kind>` when there was no answer.
    ///   - duration: from send to answer.
    public func call(operation: String, status: String, duration: Duration) {
        calls.metric(MetricLabels(operation, status)) {
            Counter(label: "imsgw_upstream_calls_total", dimensions: [("operation", operation), ("status", status)], factory: factory)
        }.increment()
        durations.metric(operation) {
            Timer(label: "imsgw_upstream_call_duration_seconds", dimensions: [("operation", operation)], factory: factory)
        }.recordNanoseconds(duration.wholeNanoseconds)
        if status == "429" {
            Counter(label: "imsgw_rate_limited_total", dimensions: [("direction", "upstream")], factory: factory).increment()
        }
    }

    /// An IMS 429 paused the call budget for `duration` (after the cap):
    /// `imsgw_upstream_pauses_total` and `imsgw_upstream_pause_duration_seconds`.
    public func pause(duration: Duration) {
        Counter(label: "imsgw_upstream_pauses_total", factory: factory).increment()
        Timer(label: "imsgw_upstream_pause_duration_seconds", factory: factory).recordNanoseconds(duration.wholeNanoseconds)
    }

    /// One IAM token request; `result` is `success` or `failure`.
    public func tokenRefresh(result: String) {
        Counter(label: "imsgw_token_refreshes_total", dimensions: [("result", result)], factory: factory).increment()
    }
}

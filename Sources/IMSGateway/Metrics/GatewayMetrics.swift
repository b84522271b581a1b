import CoreMetrics
import IMSClient
import Prometheus

/// The gateway's Prometheus registry and the metrics it records (docs/ARCHITECTURE.md,
/// "Operational endpoints"), served at `GET /metrics` in the Prometheus text format.
///
/// | metric | kind | labels |
/// |---|---|---|
/// | `imsgw_requests_total` | counter | `route`, `status` |
/// | `imsgw_request_duration_seconds` | histogram | `route` |
/// | `imsgw_callers_waiting` | gauge | |
/// | `imsgw_job_polls` | histogram (polls per job) | |
/// | `imsgw_job_duration_seconds` | histogram (submit to final state) | `state` |
/// | `imsgw_upstream_calls_total` | counter | `operation`, `status` |
/// | `imsgw_upstream_call_duration_seconds` | histogram | `operation` |
/// | `imsgw_token_refreshes_total` | counter | `result` |
/// | `imsgw_rate_limited_total` | counter | `direction` (`inbound`: 429 to a client over its rate limit; `upstream`: IMS 429) |
/// | `imsgw_request_upstream_calls` | histogram (IMS calls per finished request) | |
/// | `imsgw_background_waits` | gauge (requests answered 504 whose jobs are still waited on) | |
/// | `imsgw_client_auth_failures_total` | counter | `reason` (`missing`, `unknown_key`, `project_not_allowed`) |
/// | `imsgw_upstream_pauses_total` | counter (IMS 429s that paused the call budget) | |
/// | `imsgw_upstream_pause_duration_seconds` | histogram (each pause, after the cap) | |
/// | `imsgw_upstream_pause_remaining_seconds` | gauge (seconds left of the pause in force, 0 when none; read at each scrape) | |
/// | `imsgw_pending_requests_refused_total` | counter (429 to a client at its bound of requests not yet final) | |
/// | `imsgw_store_writes_total` | counter (write transactions of the store) | `operation` |
/// | `imsgw_store_write_failures_total` | counter (store writes that failed and are retried) | `operation` |
/// | `imsgw_stored_requests_refused_total` | counter (429 to a client at its cap of stored requests) | |
/// | `imsgw_recovered_requests_total` | counter (requests of an earlier process found running at start) | `kind` |
/// | `imsgw_reaped_requests_total` | counter (finished requests deleted after `outcomes.ttlSeconds`) | |
/// | `imsgw_requests_taken_over_total` | counter (running requests this replica took over from one whose lease expired or was released) | |
/// | `imsgw_leases_lost_total` | counter (running requests this replica stopped because another took them over) | |
/// | `imsgw_store_reachable` | gauge (1 while the store answers; 0 from the first failure of an outage until the next success) | |
/// | `imsgw_cors_preflights_total` | counter (CORS preflights: `OPTIONS` with an `Origin`) | `origin` (`listed` in `cors.allowedOrigins`, or `unlisted`: answered without `Access-Control-Allow-Origin`) |
/// | `imsgw_store_listening` | gauge (PostgreSQL: 1 while the change listener is connected; 0 while it reconnects, when followers on this replica read the store every second) | |
/// | `imsgw_lease_renewal_lag_seconds` | gauge (seconds since this replica last renewed its leases, read at each renewal pass; near `store.leaseSeconds` its requests are taken over) | |
///
/// Each gateway has its own registry (no global bootstrap), so several can run in one process.
public final class GatewayMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let waiting: Meter
    private let background: Meter
    private let pauseRemaining: CoreMetrics.Gauge
    // The metrics of every request, made once per label set (``MetricCache``).
    private let requests = MetricCache<MetricLabels, CoreMetrics.Counter>()
    private let requestDurations = MetricCache<String, CoreMetrics.Timer>()
    private let storeWrites = MetricCache<String, CoreMetrics.Counter>()
    private let jobDurations = MetricCache<String, CoreMetrics.Timer>()
    private let jobPolls: Recorder
    private let requestUpstreamCalls: Recorder
    /// Metrics of upstream calls, for ``IMSClient``.
    public let upstream: UpstreamMetrics

    /// Creates an empty registry.
    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets["imsgw_job_polls"] = [1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50]
        factory.valueHistogramBuckets["imsgw_request_upstream_calls"] = [1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000]
        self.registry = registry
        self.factory = factory
        self.waiting = Meter(label: "imsgw_callers_waiting", factory: factory)
        self.background = Meter(label: "imsgw_background_waits", factory: factory)
        self.pauseRemaining = CoreMetrics.Gauge(label: "imsgw_upstream_pause_remaining_seconds", factory: factory)
        self.jobPolls = Recorder(label: "imsgw_job_polls", factory: factory)
        self.requestUpstreamCalls = Recorder(label: "imsgw_request_upstream_calls", factory: factory)
        self.upstream = UpstreamMetrics(factory: factory)
        pauseRemaining.record(0)
    }

    /// Sets the gauge of the IMS pause left from `pause` (0 when none is in force).
    func upstreamPause(_ pause: UpstreamPause?, now: ContinuousClock.Instant = .now) {
        let left = pause.map { now.duration(to: $0.until) } ?? .zero
        pauseRemaining.record(max(0, Double(left.wholeMilliseconds) / 1000))
    }

    /// A client at its bound of requests not yet final was refused.
    func pendingRequestsRefused() {
        Counter(label: "imsgw_pending_requests_refused_total", factory: factory).increment()
    }

    /// One write transaction of the store, by operation (`admit`, `attempt`, `job_id`,
    /// `final`, `resume`).
    func storeWrite(operation: String) {
        storeWrites.metric(operation) {
            Counter(label: "imsgw_store_writes_total", dimensions: [("operation", operation)], factory: factory)
        }.increment()
    }

    /// A store write that failed (it is retried), by operation.
    func storeWriteFailed(operation: String) {
        Counter(label: "imsgw_store_write_failures_total", dimensions: [("operation", operation)], factory: factory)
            .increment()
    }

    /// A new request refused because its client has `outcomes.maxPerClient` requests stored.
    func storedRequestsRefused() {
        Counter(label: "imsgw_stored_requests_refused_total", factory: factory).increment()
    }

    /// Requests found running in the store at start, resumed (`resumed`) or given up
    /// (`given_up`, past `wait.maxBackgroundSeconds`).
    func recovered(_ count: Int, as kind: String) {
        Counter(label: "imsgw_recovered_requests_total", dimensions: [("kind", kind)], factory: factory)
            .increment(by: count)
    }

    /// Running requests taken over from a replica whose lease expired or was released.
    func takenOver(_ count: Int) {
        Counter(label: "imsgw_requests_taken_over_total", factory: factory).increment(by: count)
    }

    /// Running requests stopped here because another replica took them over.
    func leasesLost(_ count: Int) {
        Counter(label: "imsgw_leases_lost_total", factory: factory).increment(by: count)
    }

    /// Seconds since this replica last renewed its leases.
    func leaseRenewalLag(_ lag: Duration) {
        CoreMetrics.Gauge(label: "imsgw_lease_renewal_lag_seconds", factory: factory)
            .record(Double(lag.wholeMilliseconds) / 1000)
    }

    /// Whether the store answers, as the request path last saw it: 1, or 0 during an outage.
    func storeReachable(_ reachable: Bool) {
        CoreMetrics.Gauge(label: "imsgw_store_reachable", factory: factory).record(reachable ? 1 : 0)
    }

    /// A CORS preflight from a listed origin, or from an unlisted one (refused).
    func corsPreflight(listed: Bool) {
        Counter(label: "imsgw_cors_preflights_total", dimensions: [("origin", listed ? "listed" : "unlisted")], factory: factory)
            .increment()
    }

    /// Whether the store's change listener is connected: 1, or 0 while it reconnects.
    func storeListening(_ listening: Bool) {
        CoreMetrics.Gauge(label: "imsgw_store_listening", factory: factory).record(listening ? 1 : 0)
    }

    /// Finished requests deleted by the reaper after `outcomes.ttlSeconds`.
    func reaped(_ count: Int) {
        Counter(label: "imsgw_reaped_requests_total", factory: factory).increment(by: count)
    }

    /// One answered request.
    func request(route: String, status: Int, duration: Duration) {
        let status = "\(status)"
        requests.metric(MetricLabels(route, status)) {
            Counter(label: "imsgw_requests_total", dimensions: [("route", route), ("status", status)], factory: factory)
        }.increment()
        requestDurations.metric(route) {
            Timer(label: "imsgw_request_duration_seconds", dimensions: [("route", route)], factory: factory)
        }.recordNanoseconds(duration.wholeNanoseconds)
    }

    /// A caller started (+1) or stopped (-1) waiting on an accept/reject.
    func callersWaiting(_ delta: Int) {
        if delta > 0 { waiting.increment(by: Double(delta)) } else { waiting.decrement(by: Double(-delta)) }
    }

    /// A request ended (answered with a final outcome, or its background wait ended): the IMS
    /// calls made for it.
    func requestEnded(upstreamCalls: Int) {
        requestUpstreamCalls.record(upstreamCalls)
    }

    /// A background wait started (+1) or ended (-1).
    func backgroundWaits(_ delta: Int) {
        if delta > 0 { background.increment(by: Double(delta)) } else { background.decrement(by: Double(-delta)) }
    }

    /// A client was answered 429 for its rate limit.
    func inboundRateLimited() {
        Counter(label: "imsgw_rate_limited_total", dimensions: [("direction", "inbound")], factory: factory).increment()
    }

    /// A caller was refused 401 or 403; `reason` is `missing`, `unknown_key` or
    /// `project_not_allowed` (never the key).
    func clientAuthFailure(reason: String) {
        Counter(label: "imsgw_client_auth_failures_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// A job's wait ended: polls made and time from submit to the end of the wait.
    func job(polls: Int, duration: Duration, state: String) {
        jobPolls.record(polls)
        jobDurations.metric(state) {
            Timer(label: "imsgw_job_duration_seconds", dimensions: [("state", state)], factory: factory)
        }.recordNanoseconds(duration.wholeNanoseconds)
    }

    /// The Prometheus text exposition of every metric.
    public func render() -> [UInt8] {
        registry.emitToBuffer()
    }
}

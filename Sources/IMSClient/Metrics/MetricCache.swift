import Synchronization

/// swift-metrics objects (`Counter`, `Timer`, `Recorder`) made once per set of label values
/// and reused. Making one through swift-prometheus's factory validates the name and labels and
/// looks the series up under the registry's lock on every call, about 3,500 instructions
/// (BENCHMARKS.md, "The request path's CPU"); a cached one costs a hash of its label values.
///
/// Keys must come from small closed sets (route names, operation names, HTTP statuses, store
/// operations): the cache never forgets an entry, as the registry never forgets a series.
public final class MetricCache<Key: Hashable & Sendable, Metric: AnyObject & Sendable>: Sendable {
    private let made = Mutex<[Key: Metric]>([:])

    /// An empty cache.
    public init() {}

    /// The metric of `key`, made by `make` the first time.
    public func metric(_ key: Key, make: () -> Metric) -> Metric {
        made.withLock { made in
            if let metric = made[key] { return metric }
            let metric = make()
            made[key] = metric
            return metric
        }
    }
}

/// Two label values, the key of a metric with two dimensions in a ``MetricCache``.
public struct MetricLabels: Hashable, Sendable {
    /// The first label's value (e.g. the route or the operation).
    public var first: String
    /// The second label's value (e.g. the status).
    public var second: String

    /// The pair `first`, `second`.
    public init(_ first: String, _ second: String) {
        self.first = first
        self.second = second
    }
}

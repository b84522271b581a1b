import Foundation

/// The JSON line `imsgw-bench load` prints. Latencies in ms, memory in MB (10^6 bytes).
struct LoadReport: Encodable {
    struct Latency: Encodable {
        var p50: Double
        var p90: Double
        var p99: Double
        var max: Double
        var mean: Double
    }

    struct Process: Encodable {
        /// CPU seconds used in the window.
        var cpu_seconds: Double
        /// CPU seconds per second of window (1.0 = one core busy).
        var cores: Double
        var peak_rss_mb: Double
        var threads_min: Int
        var threads_max: Int
    }

    var client: String
    var scenario: String
    var method: String
    var concurrency: Int
    /// Requests measured (sent in the window).
    var requests: Int
    /// Every request sent, the warm-up's included.
    var sent: Int
    var errors: Int
    var first_error: String?
    var statuses: [String: Int]
    var seconds: Double
    var requests_per_second: Double
    var latency_ms: Latency
    var processes: [String: Process]

    init(client: String, scenario: String, method: String, concurrency: Int, result: LoadResult) {
        self.client = client
        self.scenario = scenario
        self.method = method
        self.concurrency = concurrency
        requests = result.latencies.count + result.errors
        sent = result.sent
        errors = result.errors
        first_error = result.firstError
        statuses = Dictionary(uniqueKeysWithValues: result.statuses.map { (String($0.key), $0.value) })
        seconds = result.seconds
        requests_per_second = result.seconds > 0 ? Double(result.latencies.count) / result.seconds : 0
        let sorted = result.latencies
        func percentile(_ share: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let index = min(sorted.count - 1, max(0, Int((share * Double(sorted.count)).rounded(.up)) - 1))
            return Double(sorted[index]) / 1e6
        }
        let mean = sorted.isEmpty ? 0 : Double(sorted.reduce(0, +)) / Double(sorted.count) / 1e6
        latency_ms = Latency(p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99), max: percentile(1), mean: mean)
        let window = result.seconds
        processes = result.processes.mapValues { summary in
            Process(
                cpu_seconds: summary.cpuSeconds, cores: window > 0 ? summary.cpuSeconds / window : 0,
                peak_rss_mb: Double(summary.peakResidentBytes) / 1e6,
                threads_min: summary.minThreads == .max ? 0 : summary.minThreads, threads_max: summary.maxThreads)
        }
    }

    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }
}

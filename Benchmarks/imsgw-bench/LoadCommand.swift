import ArgumentParser
import Foundation

/// `imsgw-bench load`: a closed-loop load generator. `--concurrency` senders each send their
/// next request as soon as the previous answer has arrived, for `--duration` seconds after
/// `--warmup` seconds (or until `--requests` have been sent), and one JSON line reports the
/// measured window: requests/s, latency percentiles (ms), statuses, and for every `--watch`
/// process the CPU seconds used, peak RSS and thread counts.
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load", abstract: "Send a closed-loop load and print one JSON line of results.")

    enum Client: String, ExpressibleByArgument { case curl, ahc }
    enum Scenario: String, ExpressibleByArgument {
        /// The same request again and again.
        case request
        /// What the gateway does for one batch, straight at the simulator: PUT
        /// /v1/cloudimages/members, then GET /v1/{project_id}/jobs/{job_id}; latency is both.
        case upstream
    }

    @Option(help: "HTTP client: curl (the product's CurlHTTP engine) or ahc (AsyncHTTPClient).")
    var client: Client = .curl
    @Option(help: "request, or upstream (PUT members + GET job at --url, the simulator's base URL).")
    var scenario: Scenario = .request
    @Option(help: "Target URL (request) or the simulator's base URL (upstream).")
    var url: String
    @Option(help: "HTTP method of the request scenario.")
    var method: String = "GET"
    @Option(name: .customLong("header"), help: "A header field, \"Name: value\"; repeatable.")
    var headers: [String] = []
    @Option(name: .customLong("body-file"), help: """
        File whose bytes are the request body. In the upstream scenario one per batch: \
        the batches' PUT + GET pairs run at once, as the gateway's fan-out does.
        """)
    var bodyFiles: [String] = []
    @Option(help: "A body of this many bytes of 'x' (when no --body-file).")
    var bodyBytes: Int = 0
    @Option(help: "project_id of the job GET (upstream scenario).")
    var project: String = ""
    @Option(help: "Concurrent senders (and most connections).")
    var concurrency: Int = 1
    @Option(help: "Measured seconds (ignored with --requests).")
    var duration: Double = 5
    @Option(help: "Seconds of load before the measured window.")
    var warmup: Double = 1
    @Option(help: "Send exactly this many requests in all, then stop; every one is measured.")
    var requests: Int?
    @Option(help: "Limit of one request (both calls in the upstream scenario each), in seconds.")
    var timeout: Double = 60
    @Option(name: .customLong("watch"), help: "NAME=PID of a process to report CPU, RSS and threads of; repeatable.")
    var watches: [String] = []

    func validate() throws {
        guard (1...100_000).contains(concurrency) else { throw ValidationError("--concurrency must be from 1 to 100000") }
        // Seconds are bounded (a day) so that every conversion to whole ms stays in range.
        for (name, value, minimum) in [("--duration", duration, 0.001), ("--warmup", warmup, 0), ("--timeout", timeout, 0.001)]
        where !(value >= minimum && value <= 86_400) {
            throw ValidationError("\(name) must be from \(minimum) to 86400 seconds")
        }
        if let requests, requests < 1 { throw ValidationError("--requests must be at least 1") }
        if scenario == .upstream, project.isEmpty { throw ValidationError("the upstream scenario needs --project") }
        for header in headers {
            let name = header.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            guard header.contains(":"), !name.trimmingCharacters(in: .whitespaces).isEmpty,
                  !header.contains(where: { $0 == "\r" || $0 == "\n" })
            else { throw ValidationError("--header \(header.debugDescription): expected \"Name: value\" on one line") }
        }
        for watch in watches { _ = try Self.watched(watch) }
    }

    /// The name and pid of a `--watch NAME=PID`.
    /// - Throws: `ValidationError` when it is malformed or names no process in /proc.
    static func watched(_ watch: String) throws -> (name: String, pid: Int32) {
        let parts = watch.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, let pid = Int32(parts[1]) else { throw ValidationError("--watch \(watch): expected NAME=PID") }
        guard ProcessSample.read(pid: pid) != nil else { throw ValidationError("--watch \(watch): no process \(pid) to read in /proc") }
        return (String(parts[0]), pid)
    }

    func run() async throws {
        var bodies = try bodyFiles.map { Array(try Data(contentsOf: URL(fileURLWithPath: $0))) }
        if bodies.isEmpty { bodies = [[UInt8](repeating: UInt8(ascii: "x"), count: bodyBytes)] }
        let fields = headers.map { header -> (name: String, value: String) in
            let colon = header.firstIndex(of: ":")!
            return (String(header[..<colon]), header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let watched = [("load_generator", getpid())] + (try watches.map(Self.watched))
        let timeoutMilliseconds = Int(timeout * 1000)
        let loadClient: any LoadClient = switch client {
        case .curl: try CurlLoadClient(connections: concurrency, timeoutMilliseconds: timeoutMilliseconds)
        case .ahc: AsyncHTTPLoadClient(connections: concurrency, timeoutMilliseconds: timeoutMilliseconds)
        }
        let sender = LoadSender(
            client: loadClient, scenario: scenario,
            request: LoadRequest(method: method.uppercased(), url: url, headers: fields, body: bodies[0]),
            batchBodies: bodies, project: project)
        let plan = LoadPlan(
            concurrency: concurrency, warmup: requests == nil ? warmup : 0, duration: duration, requests: requests)
        let result = await LoadRunner(sender: sender, plan: plan, watch: ProcessWatch(processes: watched)).run()
        await loadClient.shutdown()
        let report = LoadReport(
            client: client.rawValue, scenario: scenario.rawValue,
            method: scenario == .upstream ? "PUT+GET" : method.uppercased(), concurrency: concurrency,
            result: result)
        print(String(decoding: try report.json(), as: UTF8.self))
        // A run in which nothing got an HTTP answer measured nothing: fail it.
        if result.latencies.isEmpty { throw ExitCode(1) }
    }
}

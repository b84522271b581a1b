import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a child process wrote to standard error, filled from the pipe's reading thread.
final class CollectedOutput: Sendable {
    let text = Mutex("")
}

/// A child process of the built `ims-gateway` binary, its standard error collected.
final class ChildProcess {
    private let process: Process
    private let stderr = CollectedOutput()

    private init(process: Process) {
        self.process = process
    }

    /// The built `ims-gateway` binary: `IMS_GATEWAY_BIN`, else beside the test bundle (SwiftPM
    /// builds every product into one directory).
    static func binary() throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["IMS_GATEWAY_BIN"] { return URL(fileURLWithPath: path) }
        var candidates: [URL] = []
        for executable in [Bundle.main.executableURL, URL(fileURLWithPath: CommandLine.arguments[0])].compactMap({ $0 }) {
            var directory = executable.resolvingSymlinksInPath().deletingLastPathComponent()
            // macOS runs tests from inside an .xctest bundle (.../debug/X.xctest/Contents/MacOS/X).
            for _ in 0..<4 {
                candidates.append(directory.appendingPathComponent("ims-gateway"))
                directory = directory.deletingLastPathComponent()
            }
        }
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("ims-gateway"))
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw ChildProcessError("no built ims-gateway binary near the test bundle (tried \(candidates.map(\.path))); set IMS_GATEWAY_BIN")
        }
        return found
    }

    /// Starts `binary` with `arguments`, this process's environment plus `environment`. A
    /// `serve` that is given no `IMSGW_STORE_URL` gets a store file of its own in a new
    /// temporary folder (two on the default file would lock each other out).
    static func start(_ binary: URL, _ arguments: [String], environment: [String: String]) throws -> ChildProcess {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var environment = environment
        if arguments.first == "serve", environment["IMSGW_STORE_URL"] == nil {
            environment["IMSGW_STORE_URL"] = "sqlite:" + TemporaryFolder().path("store.sqlite")
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardError = pipe
        let child = ChildProcess(process: process)
        let output = child.stderr
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
            } else {
                output.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
            }
        }
        try process.run()
        return child
    }

    /// Everything the process wrote to standard error so far.
    var log: String { stderr.text.withLock { $0 } }

    var isRunning: Bool { process.isRunning }

    var terminationStatus: Int32 { process.terminationStatus }

    /// Whether the process ended by a signal (then ``terminationStatus`` is the signal's
    /// number) or by exiting.
    var terminationReason: Process.TerminationReason { process.terminationReason }

    /// Waits up to `limit` for the process to end; returns whether it did.
    func waitForExit(within limit: Duration) async throws -> Bool {
        let end = ContinuousClock.now.advanced(by: limit)
        while process.isRunning {
            guard ContinuousClock.now < end else { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// The port of the first log line containing `logLine` (`port=N` in text logs,
    /// `"port":"N"` in JSON lines), waiting up to 20 s for it.
    func port(logLine: String) async throws -> Int {
        // Loose: a debug binary starting on a loaded 2-core machine took 20 s once.
        let end = ContinuousClock.now.advanced(by: .seconds(60))
        while ContinuousClock.now < end {
            for line in log.split(separator: "\n") where line.contains(logLine) {
                if let range = line.range(of: #"port"?[=:]"?\d+"#, options: .regularExpression),
                    let port = Int(line[range].filter(\.isNumber))
                {
                    return port
                }
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ChildProcessError("no '\(logLine)' line with a port; log:\n\(log)")
    }

    func signal(_ signal: Int32) {
        if process.isRunning { sendSignal(signal, to: process.processIdentifier) }
    }

    /// Ends the process if it still runs: SIGTERM, then SIGKILL after 3 s.
    func kill() {
        guard process.isRunning else { return }
        signal(SIGTERM)
        let end = Date().addingTimeInterval(3)
        while process.isRunning, Date() < end { usleep(20_000) }
        signal(SIGKILL)
        process.waitUntilExit()
    }
}

/// `kill(2)`, outside ``ChildProcess`` whose `kill()` hides it.
private func sendSignal(_ signal: Int32, to pid: pid_t) {
    _ = kill(pid, signal)
}

/// A child process could not be found, started or read.
struct ChildProcessError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

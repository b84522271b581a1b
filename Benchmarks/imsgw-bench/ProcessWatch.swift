import Foundation
import Synchronization

/// Reads another process's CPU time, resident memory and thread count from `/proc/PID`
/// (Linux): CPU is fields 14 + 15 of `stat` (utime + stime, clock ticks), memory `VmRSS` and
/// threads `Threads` of `status`.
struct ProcessSample: Sendable {
    /// User + system CPU time, in seconds.
    var cpuSeconds: Double
    /// Resident set size, in bytes.
    var residentBytes: Int
    /// Threads of the process.
    var threads: Int

    /// Reads `/proc/<pid>`; nil when the process is gone or the files cannot be read.
    static func read(pid: Int32) -> ProcessSample? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name (which may hold spaces): state is field 3.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var resident = 0
        var threads = 0
        for line in status.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2 else { continue }
            if parts[0] == "VmRSS:" { resident = (Int(parts[1]) ?? 0) * 1024 }
            if parts[0] == "Threads:" { threads = Int(parts[1]) ?? 0 }
        }
        return ProcessSample(cpuSeconds: (user + system) / ticks, residentBytes: resident, threads: threads)
    }
}

/// Watches named processes during the measured window: CPU used in the window, peak RSS and
/// the range of the thread count, sampled every 100 ms.
final class ProcessWatch: Sendable {
    struct Summary: Sendable {
        var cpuSeconds: Double = 0
        var peakResidentBytes = 0
        var minThreads = Int.max
        var maxThreads = 0
        var startCPU: Double = 0
    }

    let processes: [(name: String, pid: Int32)]
    private let state: Mutex<[String: Summary]>

    /// - Parameter processes: `name=pid` pairs.
    init(processes: [(name: String, pid: Int32)]) {
        self.processes = processes
        state = Mutex([:])
    }

    /// Records the CPU time at the start of the window.
    func start() {
        for process in processes {
            guard let sample = ProcessSample.read(pid: process.pid) else { continue }
            state.withLock { $0[process.name] = Summary(startCPU: sample.cpuSeconds) }
            record(process.name, sample)
        }
    }

    /// Takes one sample of every process.
    func sample() {
        for process in processes {
            if let sample = ProcessSample.read(pid: process.pid) { record(process.name, sample) }
        }
    }

    /// Takes the last sample and returns, per process name, the window's summary.
    func finish() -> [String: Summary] {
        sample()
        return state.withLock { $0 }
    }

    private func record(_ name: String, _ sample: ProcessSample) {
        state.withLock { states in
            var summary = states[name] ?? Summary(startCPU: sample.cpuSeconds)
            summary.cpuSeconds = sample.cpuSeconds - summary.startCPU
            summary.peakResidentBytes = max(summary.peakResidentBytes, sample.residentBytes)
            summary.minThreads = min(summary.minThreads, sample.threads)
            summary.maxThreads = max(summary.maxThreads, sample.threads)
            states[name] = summary
        }
    }
}

import Logging
import Synchronization

/// Keeps every log line (message and metadata, rendered) so that a test can search them.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    /// Everything logged so far, one line per entry.
    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    /// A logger at `trace` level that writes here.
    func logger(label: String = "ims-gateway") -> Logger {
        var logger = Logger(label: label, factory: { _ in CapturingLogHandler(capture: self) })
        logger.logLevel = .trace
        return logger
    }
}

/// A `LogHandler` that renders each entry into a ``LogCapture``.
struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        capture.append("\(event.level) \(event.message) \(rendered) [\(event.source)]")
    }
}

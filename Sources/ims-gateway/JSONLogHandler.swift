import Foundation
import Logging
import Synchronization

/// One JSON object per line on standard error: `ts` (ISO 8601 UTC, milliseconds), `level`,
/// `label`, `msg`, `source`, then every metadata key (values as strings, nested metadata as
/// objects). swift-log has no JSON handler of its own.
struct JSONLogHandler: LogHandler {
    let label: String
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    private static let output = Mutex(FileHandle.standardError)

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: Any] = [:]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            object[key] = Self.json(value)
        }
        object["ts"] = Date().formatted(Self.timestampStyle)
        object["level"] = event.level.rawValue
        object["label"] = label
        object["msg"] = "\(event.message)"
        object["source"] = event.source
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        data.append(0x0A)
        Self.output.withLock { $0.write(data) }
    }

    private static func json(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let string): return string
        case .stringConvertible(let convertible): return convertible.description
        case .array(let values): return values.map(json)
        case .dictionary(let dictionary): return dictionary.mapValues(json)
        }
    }

    /// ISO 8601 UTC with milliseconds, made once: a formatter per line would cost on every log call.
    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}

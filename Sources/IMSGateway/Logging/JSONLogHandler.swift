import Foundation
import GatewayStore
import Logging
import Synchronization

/// One JSON object per line on standard error: `ts` (ISO 8601 UTC, milliseconds), `level`,
/// `label`, `msg`, `source`, then every metadata key (values as strings, nested metadata as
/// objects, lists as arrays). swift-log has no JSON handler of its own.
public struct JSONLogHandler: LogHandler {
    /// The logger's label (`label` of every line).
    public let label: String
    /// Metadata on every line of this handler.
    public var metadata: Logger.Metadata = [:]
    /// Lines below this level are not written.
    public var logLevel: Logger.Level = .info

    private static let output = Mutex(FileHandle.standardError)

    /// A handler for the logger labelled `label`, writing to standard error.
    public init(label: String) {
        self.label = label
    }

    /// One metadata value of this handler (swift-log's `LogHandler` requirement).
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line (see ``JSONLogHandler``) to standard error, under a lock so that lines
    /// of concurrent tasks never interleave. Write errors are ignored, as swift-log expects.
    public func log(event: LogEvent) {
        let line = Self.line(
            label: label, level: event.level, message: "\(event.message)", source: event.source,
            metadata: metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }),
            timestamp: Date().formatted(Self.timestampStyle))
        Self.output.withLock { $0.write(Data(line)) }
    }

    /// One log line, newline included: the metadata (keys of the handler's own fields
    /// dropped) and `ts`, `level`, `label`, `msg`, `source`, keys in ascending order.
    static func line(
        label: String, level: Logger.Level, message: String, source: String, metadata: Logger.Metadata, timestamp: String
    ) -> [UInt8] {
        var fields: [(key: String, value: Logger.MetadataValue)] = metadata
            .filter { !reservedKeys.contains($0.key) }
            .map { ($0.key, $0.value) }
        fields.append(("ts", .string(timestamp)))
        fields.append(("level", .string(level.rawValue)))
        fields.append(("label", .string(label)))
        fields.append(("msg", .string(message)))
        fields.append(("source", .string(source)))
        var line: [UInt8] = []
        line.reserveCapacity(512)
        writeObject(fields, to: &line)
        line.append(0x0A)
        return line
    }

    /// Keys the handler writes itself; metadata of the same name is dropped.
    private static let reservedKeys: Set<String> = ["ts", "level", "label", "msg", "source"]

    /// Writes `{"key":value,...}` with the keys in ascending order (so lines diff and grep
    /// the same way every time). Written by hand: JSONSerialization's `.sortedKeys` compares
    /// keys with the locale on Linux and cost most of a request's CPU (BENCHMARKS.md).
    private static func writeObject(_ fields: [(key: String, value: Logger.MetadataValue)], to line: inout [UInt8]) {
        line.append(UInt8(ascii: "{"))
        for (index, field) in fields.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { line.append(UInt8(ascii: ",")) }
            writeString(field.key, to: &line)
            line.append(UInt8(ascii: ":"))
            writeValue(field.value, to: &line)
        }
        line.append(UInt8(ascii: "}"))
    }

    private static func writeValue(_ value: Logger.MetadataValue, to line: inout [UInt8]) {
        switch value {
        case .string(let string):
            writeString(string, to: &line)
        case .stringConvertible(let convertible):
            writeString(convertible.description, to: &line)
        case .array(let values):
            line.append(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { line.append(UInt8(ascii: ",")) }
                writeValue(element, to: &line)
            }
            line.append(UInt8(ascii: "]"))
        case .dictionary(let dictionary):
            writeObject(dictionary.map { ($0.key, $0.value) }, to: &line)
        }
    }

    /// A JSON string (RFC 8259 section 7): quote, backslash and control characters escaped,
    /// everything else as UTF-8 (``JSONObjectWriter/appendString(_:to:)``).
    static func writeString(_ string: String, to line: inout [UInt8]) {
        JSONObjectWriter.appendString(string, to: &line)
    }

    /// ISO 8601 UTC with milliseconds, made once: a formatter per line would cost on every log call.
    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}

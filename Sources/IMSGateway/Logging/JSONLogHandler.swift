import Foundation
import Logging
import Synchronization
import JSONText

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

    /// Serializes writes to standard error, so that lines of concurrent tasks never interleave;
    /// holds what the next write must know (see ``writeToStandardError(_:state:)``).
    private static let output = Mutex(OutputState())

    /// The state of standard error between lines.
    private struct OutputState {
        /// The last line was cut short: the next one starts on a new line.
        var lastLineCut = false
        /// Standard error stayed full (EAGAIN) for a whole wait: lines are dropped at once,
        /// without waiting, until a write goes through again.
        var stalled = false
    }

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
    /// The event's metadata wins over the handler's for the same key.
    public func log(event: LogEvent) {
        let own = event.metadata ?? [:]
        var fields: [(key: String, value: Logger.MetadataValue)] = []
        fields.reserveCapacity(own.count + metadata.count + 5)
        for (key, value) in own where !Self.isReserved(key) { fields.append((key, value)) }
        for (key, value) in metadata where !Self.isReserved(key) && own[key] == nil {
            fields.append((key, value))
        }
        let line = Self.line(
            label: label, level: event.level, message: "\(event.message)", source: event.source, fields: fields,
            timestamp: Self.timestamp())
        Self.output.withLock { state in
            if state.lastLineCut {
                guard Self.writeToStandardError(Self.newline[...], state: &state) == 1 else { return }
                state.lastLineCut = false
            }
            let written = Self.writeToStandardError(line[...], state: &state)
            state.lastLineCut = written > 0 && written < line.count
        }
    }

    private static let newline: [UInt8] = [UInt8(ascii: "\n")]

    /// Writes `bytes` to standard error, all of them unless it fails: a write cut short by a
    /// signal goes on; on a non-blocking standard error that is full (EAGAIN) it waits for room
    /// (`poll`), at most 1 s for the whole line, and when that passes marks the output
    /// `stalled`: later lines are dropped at once until a write goes through, so that a log
    /// reader that stopped slows no request. Any other error gives up at once (a closed or
    /// broken standard error drops lines; it never stops the gateway).
    /// - Returns: the number of bytes written. A line cut short is ended by a newline before
    ///   the next, so that the next line is still one JSON object.
    private static func writeToStandardError(_ bytes: ArraySlice<UInt8>, state: inout OutputState) -> Int {
        let giveUp = ContinuousClock.now.advanced(by: .seconds(1))
        return bytes.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                    state.stalled = false
                } else if written < 0 && errno == EINTR {
                    continue
                } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    if state.stalled { break }
                    let left = ContinuousClock.now.duration(to: giveUp)
                    let milliseconds = Int32(max(0, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
                    var room = pollfd(fd: STDERR_FILENO, events: Int16(POLLOUT), revents: 0)
                    var ready: Int32
                    repeat { ready = poll(&room, 1, milliseconds) } while ready < 0 && errno == EINTR
                    if ready < 1 {
                        state.stalled = true
                        break
                    }
                } else {
                    break
                }
            }
            return offset
        }
    }

    /// One log line, newline included: the metadata (keys of the handler's own fields
    /// dropped) and `ts`, `level`, `label`, `msg`, `source`, keys in ascending order.
    static func line(
        label: String, level: Logger.Level, message: String, source: String, metadata: Logger.Metadata, timestamp: String
    ) -> [UInt8] {
        line(
            label: label, level: level, message: message, source: source,
            fields: metadata.filter { !isReserved($0.key) }.map { ($0.key, $0.value) }, timestamp: timestamp)
    }

    /// ``line(label:level:message:source:metadata:timestamp:)`` of metadata fields already free
    /// of the reserved keys.
    private static func line(
        label: String, level: Logger.Level, message: String, source: String,
        fields: [(key: String, value: Logger.MetadataValue)], timestamp: String
    ) -> [UInt8] {
        var fields = fields
        fields.append(("ts", .string(timestamp)))
        fields.append(("level", .string(level.rawValue)))
        fields.append(("label", .string(label)))
        fields.append(("msg", .string(message)))
        fields.append(("source", .string(source)))
        // Sorted in place: `sorted(by:)` would copy every key and value first.
        fields.sort { $0.key < $1.key }
        var line: [UInt8] = []
        line.reserveCapacity(1024)
        writeObject(fields, to: &line)
        line.append(0x0A)
        return line
    }

    /// Whether the handler writes `key` itself (`ts`, `level`, `label`, `msg`, `source`):
    /// metadata of the same name is dropped. Compared by length first, without hashing the key
    /// (two lines a request, about twenty keys each).
    static func isReserved(_ key: String) -> Bool {
        switch key.utf8.count {
        case 2: return key == "ts"
        case 3: return key == "msg"
        case 5: return key == "level" || key == "label"
        case 6: return key == "source"
        default: return false
        }
    }

    /// Writes `{"key":value,...}` of `fields` sorted by key, in ascending order (so lines diff
    /// and grep the same way every time). Written by hand: JSONSerialization's `.sortedKeys`
    /// compares keys with the locale on Linux and cost most of a request's CPU (BENCHMARKS.md).
    private static func writeObject(_ fields: [(key: String, value: Logger.MetadataValue)], to line: inout [UInt8]) {
        line.append(UInt8(ascii: "{"))
        for (index, field) in fields.enumerated() {
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
            writeObject(dictionary.map { ($0.key, $0.value) }.sorted { $0.key < $1.key }, to: &line)
        }
    }

    /// A JSON string (RFC 8259 section 7): quote, backslash and control characters escaped,
    /// everything else as UTF-8 (``JSONObjectWriter/appendString(_:to:)``).
    static func writeString(_ string: String, to line: inout [UInt8]) {
        JSONObjectWriter.appendString(string, to: &line)
    }

    /// Now as ISO 8601 UTC with milliseconds, `2026-11-29T14:00:00.123Z`, as
    /// `Date.ISO8601FormatStyle` with fractional seconds writes it, at a tenth of its cost.
    static func timestamp() -> String {
        let milliseconds = Int((Date().timeIntervalSince1970 * 1000).rounded(.down))
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        return fraction < 0 ? timestamp(seconds: seconds - 1, milliseconds: fraction + 1000) : timestamp(seconds: seconds, milliseconds: fraction)
    }

    /// `seconds` since the Unix epoch plus `milliseconds` (0 to 999) as ISO 8601 UTC: the
    /// civil date from the day number by H. Hinnant's `civil_from_days` (proleptic Gregorian).
    /// Instants outside the years 0000 to 9999, which ISO 8601's four digits cannot write, are
    /// written as the first or last millisecond of that range.
    static func timestamp(seconds: Int, milliseconds: Int) -> String {
        let (seconds, milliseconds) =
            seconds < -62_167_219_200 ? (-62_167_219_200, 0)
            : seconds > 253_402_300_799 ? (253_402_300_799, 999)
            : (seconds, min(max(milliseconds, 0), 999))
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        var text = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int, at offset: Int, digits: Int) {
            var value = value
            for position in stride(from: offset + digits - 1, through: offset, by: -1) {
                text[position] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(year, at: 0, digits: 4)
        put(month, at: 5, digits: 2)
        put(day, at: 8, digits: 2)
        put(secondOfDay / 3600, at: 11, digits: 2)
        put(secondOfDay / 60 % 60, at: 14, digits: 2)
        put(secondOfDay % 60, at: 17, digits: 2)
        put(milliseconds, at: 20, digits: 3)
        text[4] = UInt8(ascii: "-"); text[7] = UInt8(ascii: "-"); text[10] = UInt8(ascii: "T")
        text[13] = UInt8(ascii: ":"); text[16] = UInt8(ascii: ":"); text[19] = UInt8(ascii: "."); text[23] = UInt8(ascii: "Z")
        return String(decoding: text, as: UTF8.self)
    }
}

import Foundation

/// Typed, path-aware reads of one JSON object from `JSONSerialization`, for the control API:
/// every wrong field becomes a ``SimulatorSettingError`` that names it (`calls[1].count ...`).
struct JSONFields {
    let object: [String: Any]
    let path: String

    /// - Throws: ``SimulatorSettingError`` when `value` is not a JSON object.
    init(_ value: Any, path: String) throws(SimulatorSettingError) {
        guard let object = value as? [String: Any] else {
            throw SimulatorSettingError("\(path.isEmpty ? "the body" : path) must be a JSON object")
        }
        self.object = object
        self.path = path
    }

    private func name(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// Whether `key` is present, null included.
    func has(_ key: String) -> Bool {
        object[key] != nil
    }

    /// Whether `key` is present and JSON null.
    func isNull(_ key: String) -> Bool {
        object[key] is NSNull
    }

    /// - Throws: ``SimulatorSettingError`` naming the first key not in `allowed`.
    func rejectUnknown(_ allowed: Set<String>) throws(SimulatorSettingError) {
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw SimulatorSettingError("\(name(unknown)) is not a known field (known: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    func string(_ key: String) throws(SimulatorSettingError) -> String? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let string = value as? String else { throw SimulatorSettingError("\(name(key)) must be a string") }
        return string
    }

    func requiredString(_ key: String) throws(SimulatorSettingError) -> String {
        guard let value = try string(key) else { throw SimulatorSettingError("\(name(key)) is required") }
        return value
    }

    func bool(_ key: String) throws(SimulatorSettingError) -> Bool? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard Self.isBoolean(value), let bool = value as? Bool else {
            throw SimulatorSettingError("\(name(key)) must be true or false")
        }
        return bool
    }

    func double(_ key: String) throws(SimulatorSettingError) -> Double? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard !Self.isBoolean(value), let number = (value as? Double) ?? (value as? Int).map(Double.init), number.isFinite else {
            throw SimulatorSettingError("\(name(key)) must be a number")
        }
        return number
    }

    /// An integer no smaller than `minimum`.
    func int(_ key: String, minimum: Int) throws(SimulatorSettingError) -> Int? {
        guard let number = try double(key) else { return nil }
        guard number == number.rounded(), number >= Double(minimum), number <= Double(Int32.max) else {
            throw SimulatorSettingError("\(name(key)) must be an integer, at least \(minimum)")
        }
        return Int(number)
    }

    func requiredInt(_ key: String, minimum: Int) throws(SimulatorSettingError) -> Int {
        guard let value = try int(key, minimum: minimum) else { throw SimulatorSettingError("\(name(key)) is required") }
        return value
    }

    /// A seed: an integer from 0 to 2^53 (what a JSON number holds exactly).
    func seed(_ key: String) throws(SimulatorSettingError) -> UInt64 {
        guard let number = try double(key) else { return 1 }
        guard number == number.rounded(), number >= 0, number <= 9_007_199_254_740_992 else {
            throw SimulatorSettingError("\(name(key)) must be an integer from 0 to 2^53")
        }
        return UInt64(number)
    }

    /// Whether a decoded JSON value was `true` or `false`: `JSONSerialization` gives booleans
    /// and numbers alike as `NSNumber`, and `1 is Bool` holds, so the number's C type decides.
    private static func isBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    /// The elements of an array field, each with its path (`calls[0]`).
    func array(_ key: String) throws(SimulatorSettingError) -> [(value: Any, path: String)] {
        guard let value = object[key], !(value is NSNull) else { return [] }
        guard let array = value as? [Any] else { throw SimulatorSettingError("\(name(key)) must be an array") }
        return array.enumerated().map { (value: $0.element, path: "\(name(key))[\($0.offset)]") }
    }
}

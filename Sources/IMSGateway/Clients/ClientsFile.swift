import Foundation
import Yams

/// The clients file (YAML, or JSON when the name ends in `.json`): every caller the gateway
/// accepts, with the SHA-256 of its keys, never a key.
///
/// ```yaml
/// clients:
///   - name: portal                   # unique, 1-64 characters of [A-Za-z0-9._-]
///     key_sha256: [5e884898...]      # 64 hex each (either case), one or more
///     projects: ["edc89b490d7d4392898e19b2deb34797"]   # 32 hex each, or ["*"]
///     rate_limit: {rate: 5, burst: 10}                 # optional
/// ```
public enum ClientsFile {
    /// Reads, decodes and checks the clients file at `path`.
    ///
    /// - Parameters:
    ///   - path: The file; parsed as JSON when it ends in `.json` (any letter case), else as YAML.
    ///   - defaultRateLimit: The limit of clients that give no `rate_limit`.
    /// - Returns: One entry per client, in file order; project IDs normalised to lower case.
    /// - Throws: ``ClientsFileError`` listing every problem found, when there is at least one.
    public static func load(path: String, defaultRateLimit: ClientRateLimit) throws(ClientsFileError) -> [ClientEntry] {
        let document = try decode(try read(path: path), path: path)
        return try validate(document, path: path, defaultRateLimit: defaultRateLimit).get()
    }

    /// The file's bytes, or why they cannot be had.
    private static func read(path: String) throws(ClientsFileError) -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ClientsFileError(path: path, problem: "the file does not exist")
        }
        guard !isDirectory.boolValue else { throw ClientsFileError(path: path, problem: "the path is a directory, not a file") }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as CocoaError where error.code == .fileReadNoPermission {
            throw ClientsFileError(path: path, problem: "the file cannot be read: permission denied")
        } catch {
            throw ClientsFileError(path: path, problem: "the file cannot be read")
        }
        guard data.contains(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else {
            throw ClientsFileError(path: path, problem: "the file is empty")
        }
        return data
    }

    private static func decode(_ data: Data, path: String) throws(ClientsFileError) -> Document {
        if path.lowercased().hasSuffix(".json") {
            let document: Document
            do {
                document = try JSONDecoder().decode(Document.self, from: data)
            } catch {
                throw ClientsFileError(path: path, problem: "not valid JSON" + jsonParseDetail(data))
            }
            // YAML files get this check from Yams.
            if let name = repeatedJSONMember(in: Array(data)) {
                throw ClientsFileError(path: path, problem: "an object gives \(displayName(ofKey: name)) twice")
            }
            return document
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ClientsFileError(path: path, problem: "the file is not UTF-8 text")
        }
        do {
            return try YAMLDecoder().decode(Document.self, from: text)
        } catch {
            throw ClientsFileError(path: path, problem: "not valid YAML" + parseDetail(error))
        }
    }

    /// Where and why a parser gave up, without quoting the file: `": <problem> (line 3, column 7)"`.
    private static func parseDetail(_ error: any Error) -> String {
        var underlying: any Error = error
        if case DecodingError.dataCorrupted(let context) = error, let inner = context.underlyingError {
            underlying = inner
        }
        switch underlying {
        case YamlError.scanner(_, let problem, let mark, _), YamlError.parser(_, let problem, let mark, _),
            YamlError.composer(_, let problem, let mark, _):
            return ": \(problem) (line \(mark.line), column \(mark.column))"
        case YamlError.duplicatedKeysInMapping(let duplicates, let context):
            let names = duplicates.sorted().map { displayName(ofKey: $0) }.joined(separator: ", ")
            return ": a mapping gives \(names) twice (line \(context.mark.line))"
        case YamlError.reader(let problem, _, _, _):
            return ": \(problem)"
        default:
            return ""
        }
    }

    /// Where a JSON parser gave up, e.g. `": Invalid value around character 13."`.
    ///
    /// JSONDecoder says only that the data is not JSON; JSONSerialization says where.
    private static func jsonParseDetail(_ data: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: data)
        } catch {
            if let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String { return ": \(detail)" }
        }
        return ""
    }

    /// The first member name that an object in `bytes` (valid JSON) gives twice, at any depth.
    ///
    /// JSONDecoder silently keeps one of the two and other tools may keep the other, so an
    /// operator could read a different `projects` from the one the gateway applies.
    static func repeatedJSONMember(in bytes: [UInt8]) -> String? {
        // One element per open container: the names an object gave so far, or nil for an array.
        var open: [Set<String>?] = []
        var expectingName = false
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                let start = index
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                index += 1
                guard index <= bytes.count else { return nil }
                if expectingName, let last = open.last, var names = last {
                    guard let name = try? JSONSerialization.jsonObject(
                        with: Data(bytes[start..<index]), options: [.fragmentsAllowed]) as? String
                    else { return nil }
                    if names.contains(name) { return name }
                    names.insert(name)
                    open[open.count - 1] = names
                    expectingName = false
                }
                continue
            case UInt8(ascii: "{"):
                open.append([])
                expectingName = true
            case UInt8(ascii: "["):
                open.append(nil)
                expectingName = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = open.popLast()
                expectingName = false
            case UInt8(ascii: ","):
                if let last = open.last { expectingName = last != nil }
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// How an unrecognised mapping key is named in a message.
    ///
    /// A name as long as a client key might be one pasted in the wrong place, so only names
    /// shorter than the shortest valid key are quoted.
    static func displayName(ofKey key: String) -> String {
        key.count < ClientKey.allowedLength.lowerBound ? "\"\(key)\"" : "a key of \(key.count) characters"
    }
}

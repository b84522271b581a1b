import ArgumentParser
import Foundation
import IMSGateway

/// `ims-gateway hash-key`: makes a client key (or takes one from standard input) and prints its
/// SHA-256 for the clients file.
struct HashKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-key",
        abstract: "Make a client key and the key_sha256 to put in the clients file.",
        discussion: """
            Callers authenticate with Authorization: Bearer <key>. The clients file never holds a key, \
            only the SHA-256 of each key (key_sha256, 64 hex characters; a client may list several \
            while keys are rotated). Without options this makes a new random key (imsgw_ and 32 random \
            bytes in base64url). With --stdin it reads one key of your own from standard input \
            (16 to 512 printable ASCII characters, no spaces; a trailing newline is ignored). \
            Two lines go to standard output, 'key: <key>' and 'key_sha256: <hash>': put the hash in \
            the client's key_sha256 list in the clients file and give the key to the client, by a safe \
            channel. The gateway keeps no copy of the key. \
            Exit status 65 (EX_DATAERR) when the key read from standard input is not acceptable.
            """)

    @Flag(help: "Read the key from standard input instead of making a new one.") var stdin = false

    func run() throws {
        let key: String
        if stdin {
            do {
                key = try ClientKey.validate(try Self.readStandardInput())
            } catch {
                FileHandle.standardError.write(Data("ims-gateway: hash-key: \(error)\n".utf8))
                throw ExitCode(65)
            }
        } else {
            key = ClientKey.generate()
        }
        print("key: \(key)")
        print("key_sha256: \(ClientKey.sha256Hex(key))")
        FileHandle.standardError.write(Data(
            "Put key_sha256 in the client's key_sha256 list in the clients file; give the key to the client (it is not stored anywhere).\n"
                .utf8))
    }

    /// The one line of standard input; more than one line is refused rather than cut short.
    private static func readStandardInput() throws -> String {
        guard let line = readLine(strippingNewline: true) else { throw ClientKeyError.empty }
        // On a terminal the user ends the key with Enter; waiting for end of input would hang.
        // Through readLine too: stdio has already buffered what follows the first line.
        if isatty(FileHandle.standardInput.fileDescriptor) == 0 {
            while let more = readLine() {
                if !more.trimmingCharacters(in: .whitespaces).isEmpty { throw InputError.moreThanOneLine }
            }
        }
        return line
    }

    private enum InputError: Error, CustomStringConvertible {
        case moreThanOneLine

        var description: String { "standard input holds more than one line; give one key" }
    }
}

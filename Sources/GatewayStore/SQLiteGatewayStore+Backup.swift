import Foundation
import GRDB

extension SQLiteGatewayStore {
    /// Copies the store file at `path` into a new file while another process (serve) holds
    /// the store open: it reads through SQLite's own locking, without the store's lock file,
    /// with SQLite's online backup API. The copy is a consistent snapshot and opens as a store.
    /// - Parameters:
    ///   - path: the store file.
    ///   - destination: the new file; it must not exist.
    /// - Throws: ``StoreError`` `.failed` when `destination` exists already, `.unwritable` when it
    ///   cannot be created, `.corrupt` or `.unwritable` when the store cannot be read (the
    ///   partial copy is removed).
    public static func backup(storeAt path: String, to destination: String) throws(StoreError) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.unwritable, "the store \(path) does not exist; nothing is copied")
        }
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw StoreError(.failed, "the backup file \(destination) exists already; the store \(path) is not copied over it")
        }
        // The copy holds what the store holds: readable by this user only.
        guard FileManager.default.createFile(atPath: destination, contents: nil, attributes: [.posixPermissions: 0o600])
        else {
            throw StoreError(.unwritable, "the backup file \(destination) cannot be created; the store \(path) is not copied")
        }
        do {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.busyMode = .timeout(5)
            let source = try DatabasePool(path: path, configuration: configuration)
            let copy = try DatabaseQueue(path: destination)
            try source.backup(to: copy)
            try copy.close()
            try source.close()
        } catch {
            try? FileManager.default.removeItem(atPath: destination)
            throw StoreError(.failed, "the store \(path) could not be copied to \(destination): \(Self.describe(error))")
        }
    }

    /// A database error without SQL or values: its result code and message.
    private static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return "SQLite error \(error.resultCode.rawValue): \(error.message ?? "")"
        }
        return "\(type(of: error))"
    }
}

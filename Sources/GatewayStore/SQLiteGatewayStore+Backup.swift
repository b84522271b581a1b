import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        try createBackupFile(destination, store: path)
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

    /// Creates the empty file a backup is written into. The copy holds what the store holds:
    /// readable by this user only (0600); never created through a symbolic link, never over a
    /// file that exists (or appeared meanwhile).
    /// - Throws: ``StoreError`` `.failed` when `destination` exists, `.unwritable` when it cannot
    ///   be created; both name it and the store at `store`.
    static func createBackupFile(_ destination: String, store path: String) throws(StoreError) {
        let fd = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST {
                throw StoreError(
                    .failed, "the backup file \(destination) exists already; the store \(path) is not copied over it")
            }
            throw StoreError(
                .unwritable, "the backup file \(destination) cannot be created (errno \(code)); the store \(path) is not copied")
        }
        closeDescriptor(fd)
    }

    /// A database error without SQL or values: its result code and message.
    private static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return "SQLite error \(error.resultCode.rawValue): \(error.message ?? "")"
        }
        return "\(type(of: error))"
    }
}


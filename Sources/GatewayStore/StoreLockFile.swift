#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// An exclusive, non-blocking `flock(2)` on a store's lock file (`<store path>.lock`), held
/// while a ``SQLiteGatewayStore`` is open so that two gateway processes never share one store.
///
/// `flock` locks belong to the open file description, so two locks taken in one process on
/// the same file conflict too. The lock is released by ``release()`` or when the object goes.
final class StoreLockFile: Sendable {
    /// The lock file's path.
    let path: String
    /// The open descriptor holding the lock; nil once released.
    private let descriptor: Mutex<Int32?>

    /// Opens (creating if needed) `lockPath` and takes the lock without waiting.
    /// - Parameters:
    ///   - lockPath: the lock file, `<store path>.lock`.
    ///   - storePath: the store the lock guards, named in errors.
    /// - Throws: ``StoreError`` `.locked` when another open file (another process, or another
    ///   store object of this one) holds the lock; `.unwritable` when the file cannot be
    ///   created or opened; `.failed` otherwise.
    init(lockPath: String, storePath: String) throws(StoreError) {
        self.path = lockPath
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 {
            let code = errno
            throw StoreError(
                .unwritable,
                "the store \(storePath) cannot be opened: its lock file \(lockPath) cannot be created "
                    + "(\(Self.describe(code))); check that the folder exists and is writable")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK || code == EAGAIN {
                throw StoreError(
                    .locked,
                    "the store \(storePath) is in use by another ims-gateway process (lock file \(lockPath)); "
                        + "stop it or give this one its own store.url")
            }
            throw StoreError(
                .failed, "the store \(storePath) cannot be locked through \(lockPath) (\(Self.describe(code)))")
        }
        self.descriptor = Mutex(fd)
    }

    /// Releases the lock (closes the descriptor); does nothing the second time.
    /// Whether the locked file is still the one at its path: not deleted, not replaced.
    func isInPlace() -> Bool {
        guard let fd = descriptor.withLock({ $0 }) else { return false }
        var open = stat()
        var named = stat()
        guard fstat(fd, &open) == 0, open.st_nlink > 0, stat(path, &named) == 0 else { return false }
        return open.st_dev == named.st_dev && open.st_ino == named.st_ino
    }

    func release() {
        let fd = descriptor.withLock { value -> Int32? in
            defer { value = nil }
            return value
        }
        if let fd {
            close(fd)
        }
    }

    deinit {
        release()
    }

    /// `strerror` of an `errno` value, for one line of an error message.
    private static func describe(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}

/// Notifications of request changes made by any replica of a shared store (docs/ARCHITECTURE.md,
/// "Repeats on another replica"): what a caller following a request on another replica waits on
/// between two reads of it.
public protocol RequestChangeFeed: Sendable {
    /// Listens until the calling task is cancelled: `changed(requestID)` for each request
    /// written by any replica; `resync(listening)` each time the listener connected (true) or
    /// lost its connection (false): changes may have been missed either way, so whatever is
    /// watched must be read again.
    func listenForChanges(changed: @escaping @Sendable (String) -> Void, resync: @escaping @Sendable (Bool) -> Void) async
}

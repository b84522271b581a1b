import Foundation

/// A new folder under the system's temporary folder, for one test's files.
struct TemporaryFolder: Sendable {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("imsgw-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The path of `name` in the folder.
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Deletes the folder and everything in it.
    func remove() { try? FileManager.default.removeItem(at: url) }
}

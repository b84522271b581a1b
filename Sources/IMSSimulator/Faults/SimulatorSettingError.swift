/// A simulator setting (a `--job-duration` or `--quota` flag, a fault plan sent to
/// `PUT /_sim/faults`) that cannot be used; ``message`` says which part and why.
public struct SimulatorSettingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, naming the field or flag part, e.g. `calls[0].count must be a positive integer`.
    public let message: String

    /// Creates an error with `message`.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

extension Duration {
    /// Whole nanoseconds, rounded down.
    public var wholeNanoseconds: Int64 {
        Int64(components.seconds) * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }

    /// Whole milliseconds, rounded down.
    public var wholeMilliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}

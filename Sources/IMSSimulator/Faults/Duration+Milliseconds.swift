extension Duration {
    /// The duration in milliseconds, with its fraction.
    var inMilliseconds: Double {
        let parts = components
        return Double(parts.seconds) * 1000 + Double(parts.attoseconds) / 1e15
    }

    /// The duration in seconds, with its fraction (for `Date.addingTimeInterval`).
    var inSeconds: Double {
        inMilliseconds / 1000
    }
}

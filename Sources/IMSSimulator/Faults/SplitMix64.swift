/// SplitMix64 (Steele, Lea and Flood, 2014): a small generator whose whole sequence follows from
/// its 64-bit seed, so a seeded run draws the same job durations every time, on every platform.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// - Parameter seed: any value; equal seeds give equal sequences.
    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// A uniform draw from [0, 1) with 53 bits of precision.
    mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }
}

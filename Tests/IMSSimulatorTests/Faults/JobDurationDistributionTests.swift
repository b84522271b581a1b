import Foundation
import IMSSimulator
import Testing

/// Job durations: parsing, seeded determinism and the shape of the distributions, without a server.
@Suite("job duration distributions")
struct JobDurationDistributionTests {
    static func draws(_ distribution: JobDurationDistribution, _ count: Int) -> [Double] {
        var sampler = JobDurationSampler(distribution)
        return (0..<count).map { _ in
            let parts = sampler.next().components
            return Double(parts.seconds) * 1000 + Double(parts.attoseconds) / 1e15
        }
    }

    @Test("the text forms parse, and describe themselves back")
    func parsing() throws {
        #expect(try JobDurationDistribution(parsing: "2500") == .fixed(.milliseconds(2500)))
        #expect(try JobDurationDistribution(parsing: "fixed:31000") == .fixed(.seconds(31)))
        #expect(
            try JobDurationDistribution(parsing: "uniform:500,4000,7")
                == .uniform(min: .milliseconds(500), max: .milliseconds(4000), seed: 7))
        #expect(
            try JobDurationDistribution(parsing: "lognormal:3000,0.5,42")
                == .logNormal(median: .seconds(3), sigma: 0.5, seed: 42))
        #expect(try JobDurationDistribution(parsing: "lognormal:3000,0.5").seed == 1)
        #expect(try JobDurationDistribution(parsing: "lognormal:3000,0.5,42").description == "lognormal:3000,0.5,42")
        for bad in ["", "fast", "uniform:4000,500", "lognormal:0,0.5", "lognormal:3000", "uniform:1,2,-3", "fixed:-1"] {
            #expect(throws: SimulatorSettingError.self, "\(bad)") { try JobDurationDistribution(parsing: bad) }
        }
    }

    @Test("the same seed draws the same sequence; another seed another one")
    func seedIsDeterministic() {
        let first = Self.draws(.logNormal(median: .seconds(3), sigma: 0.5, seed: 42), 100)
        let again = Self.draws(.logNormal(median: .seconds(3), sigma: 0.5, seed: 42), 100)
        let other = Self.draws(.logNormal(median: .seconds(3), sigma: 0.5, seed: 43), 100)
        #expect(first == again)
        #expect(first != other)
        let uniform = Self.draws(.uniform(min: .milliseconds(500), max: .milliseconds(4000), seed: 7), 100)
        #expect(uniform == Self.draws(.uniform(min: .milliseconds(500), max: .milliseconds(4000), seed: 7), 100))
        #expect(Set(uniform).count > 90)
    }

    @Test("log-normal: over 1,000 draws the median is about 3,000 ms and the log's deviation about 0.5")
    func logNormalShape() {
        let values = Self.draws(.logNormal(median: .seconds(3), sigma: 0.5, seed: 42), 1000)
        let sorted = values.sorted()
        let median = (sorted[499] + sorted[500]) / 2
        let logs = values.map { log($0) }
        let mean = logs.reduce(0, +) / Double(logs.count)
        let deviation = (logs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(logs.count - 1)).squareRoot()
        // Standard errors for n = 1000: median about 3000 * 0.5 * 1.25 / sqrt(1000) ≈ 60 ms,
        // sigma about 0.5 / sqrt(2000) ≈ 0.011; the bounds are about four of them.
        #expect(abs(median - 3000) < 250, "median \(median)")
        #expect(abs(exp(mean) - 3000) < 200, "geometric mean \(exp(mean))")
        #expect(abs(deviation - 0.5) < 0.05, "sigma \(deviation)")
        #expect(values.allSatisfy { $0 > 0 })
    }

    @Test("uniform stays within its bounds and covers them; fixed never varies")
    func uniformAndFixed() {
        let values = Self.draws(.uniform(min: .milliseconds(500), max: .milliseconds(4000), seed: 9), 1000)
        #expect(values.allSatisfy { (500...4000).contains($0) })
        #expect(values.min() ?? 0 < 600)
        #expect(values.max() ?? 0 > 3900)
        let mean = values.reduce(0, +) / Double(values.count)
        #expect(abs(mean - 2250) < 150, "mean \(mean)")
        #expect(Self.draws(.fixed(.milliseconds(1234)), 5) == Array(repeating: 1234, count: 5))
    }
}

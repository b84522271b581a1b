import IMSClient
import Testing

@testable import IMSGateway

@Suite("DueQueue: the scheduler's min-heap")
struct DueQueueTests {
    /// Pops every entry: (key, due offset in ms).
    static func drain(_ queue: inout DueQueue<Int>, from start: ContinuousClock.Instant) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        while let (key, due, _) = queue.peek() {
            out.append((key, start.duration(to: due).wholeMilliseconds))
            queue.pop()
        }
        return out
    }

    @Test("pops in due order, ties in push order")
    func order() {
        let t0 = ContinuousClock.now
        var queue = DueQueue<Int>()
        for (generation, (key, ms)) in [(1, 30), (2, 10), (3, 20), (4, 10), (5, 0)].enumerated() {
            queue.push(key, at: t0.advanced(by: .milliseconds(ms)), generation: UInt64(generation))
        }
        let popped = Self.drain(&queue, from: t0)
        #expect(popped.map(\.0) == [5, 2, 4, 3, 1])
        #expect(popped.map(\.1) == [0, 10, 10, 20, 30])
    }

    @Test("compact keeps only the live entries, still in heap order")
    func compact() {
        let t0 = ContinuousClock.now
        var queue = DueQueue<Int>()
        // 200 entries of keys 0..<20 pushed again and again: only each key's last is live.
        var live: [Int: UInt64] = [:]
        for generation in 0..<200 {
            let key = generation % 20
            let ms = (generation * 37) % 101
            queue.push(key, at: t0.advanced(by: .milliseconds(ms)), generation: UInt64(generation))
            live[key] = UInt64(generation)
        }
        #expect(queue.count == 200)
        queue.compact { key, generation in live[key] == generation }
        #expect(queue.count == 20)
        let popped = Self.drain(&queue, from: t0)
        #expect(Set(popped.map(\.0)) == Set(0..<20))
        #expect(popped.map(\.1) == popped.map(\.1).sorted())
        let expected = (180..<200).map { ($0 * 37) % 101 }.sorted()
        #expect(popped.map(\.1) == expected)
    }
}

import Testing

@testable import SluiceBalancing

@Suite struct AlgorithmTests {
    @Test func weightedRandomFollowsTheWeights() {
        let wr = WeightedRandom(weights: [5, 3, 1, 0])
        var rng = FastRandom(seed: 7)
        var counts = [0, 0, 0, 0]
        for _ in 0..<90_000 { counts[wr.pick(rng.next())!] += 1 }
        #expect(counts[3] == 0)
        for (i, w) in [5.0, 3.0, 1.0].enumerated() {
            #expect(abs(Double(counts[i]) / 90_000 - w / 9) < 0.01, "\(counts)")
        }
        #expect(wr.pick(where: { $0 == 2 }, random: { rng.next() }) == 2)
        #expect(wr.pick(where: { $0 == 3 }, random: { rng.next() }) == nil)
    }

    @Test func leastRequestPrefersTheLessLoadedOfTwo() {
        let lr = LeastRequest(weights: [1, 1, 1])
        var rng = FastRandom(seed: 3)
        let active = [50, 0, 50]
        var counts = [0, 0, 0]
        for _ in 0..<3000 { counts[lr.pick(active: { active[$0] }, where: { _ in true }, random: { rng.next() })!] += 1 }
        // Member 1 wins every draw it is in: about 5/9 of picks (P2C), the loaded ones share the rest.
        #expect(counts[1] > 1500, "\(counts)")
        #expect(counts[1] > counts[0] + counts[2])
    }

    @Test func leastRequestSpreadsEvenlyWhenIdleAndHonoursWeight() {
        let lr = LeastRequest(weights: [3, 1])
        var rng = FastRandom(seed: 11)
        var counts = [0, 0]
        for _ in 0..<40_000 { counts[lr.pick(active: { _ in 0 }, where: { _ in true }, random: { rng.next() })!] += 1 }
        #expect(counts[0] > counts[1] * 2, "\(counts)")
    }

    @Test func maglevIsStableAndMovesFewKeysWhenABackendLeaves() {
        let names = ["app1", "app2", "app3", "app4"]
        let full = Maglev(names: names, weights: [1, 1, 1, 1])
        var counts = [0, 0, 0, 0]
        var moved = 0
        for k in 0..<20_000 {
            let key = Maglev.hash(Array("client-\(k)".utf8))
            let a = full.pick(key: key, where: { _ in true })!
            counts[a] += 1
            #expect(full.pick(key: key, where: { _ in true }) == a)  // same key, same backend
            // app4 down: only its keys move.
            let b = full.pick(key: key, where: { $0 != 3 })!
            if a != 3 { #expect(a == b) } else { moved += 1 }
        }
        for c in counts { #expect(abs(Double(c) / 20_000 - 0.25) < 0.02, "\(counts)") }
        #expect(abs(Double(moved) / 20_000 - 0.25) < 0.02)
    }

    @Test func maglevGivesSharesByWeight() {
        let m = Maglev(names: ["a", "b", "c"], weights: [5, 3, 1])
        var counts = [0, 0, 0]
        for k in 0..<45_000 { counts[m.pick(key: Maglev.hash(Array("k\(k)".utf8)), where: { _ in true })!] += 1 }
        for (i, w) in [5.0, 3.0, 1.0].enumerated() {
            #expect(abs(Double(counts[i]) / 45_000 - w / 9) < 0.02, "\(counts)")
        }
        #expect(m.pick(key: 1, where: { _ in false }) == nil)
    }
}

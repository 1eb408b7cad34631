import Testing

@testable import SluiceBalancing

@Suite struct PickerTests {
    let everything = Eligibility(filter: .none, now: 0)

    @Test func roundRobinPickerSkipsIneligibleMembersAndKeepsTheRatio() {
        var rr = SmoothWeightedRoundRobin(weights: [5, 3, 1])
        let e = Eligibility(filter: .none, tried: [0], now: 0)
        #expect(counts(&rr, e, TestBackends(count: 3), n: 800) == [0, 600, 200, 0])
        #expect(counts(&rr, everything, TestBackends(count: 3), n: 900) == [500, 300, 100, 0])
    }

    @Test func hasEligibleMovesNoState() {
        var a = SmoothWeightedRoundRobin(weights: [5, 3, 1])
        var b = a
        let view = TestBackends(count: 3)
        for _ in 0..<7 { #expect(a.hasEligible(everything, in: view)) }
        var random = FastRandom(seed: 1)
        for _ in 0..<20 {
            let x = a.pick(everything, in: view, key: 0, random: &random)
            let y = b.pick(everything, in: view, key: 0, random: &random)
            #expect(x == y)
        }
        #expect(!a.hasEligible(Eligibility(filter: .none, tried: [0, 1, 2], now: 0), in: view))
    }

    @Test func weightedRandomFollowsItsWeightsAmongEligibleMembers() {
        var wr = WeightedRandom(weights: [5, 3, 1, 0])
        var view = TestBackends(count: 4)
        view.available[0] = false
        let c = counts(&wr, Eligibility(filter: .available, now: 0), view, n: 40_000)
        #expect(c[0] == 0 && c[3] == 0 && c[4] == 0)
        #expect(abs(Double(c[1]) / 40_000 - 0.75) < 0.02, "\(c)")
    }

    @Test func weightChangedMakesTheSameTableAsBuildingItAnew() {
        var wr = WeightedRandom(weights: [5, 3, 1])
        wr.weightChanged(10, at: 1)
        wr.weightChanged(0, at: 2)
        let fresh = WeightedRandom(weights: [5, 10, 0])
        #expect((0..<3).map(wr.weight(at:)) == [5, 10, 0])
        for r: UInt64 in 0..<30 { #expect(wr.pick(r) == fresh.pick(r)) }

        var lr = LeastRequest(weights: [1, 1])
        lr.weightChanged(0, at: 0)
        #expect(counts(&lr, everything, TestBackends(count: 2), n: 100) == [0, 100, 0])

        var rr = SmoothWeightedRoundRobin(weights: [100, 100])
        rr.weightChanged(10, at: 0)
        #expect(counts(&rr, everything, TestBackends(count: 2), n: 110) == [10, 100, 0])
    }

    @Test func leastRequestPrefersTheMemberWithFewerRequestsInFlight() {
        var lr = LeastRequest(weights: [1, 1, 1])
        var view = TestBackends(count: 3)
        view.inFlight = [50, 0, 50]
        let c = counts(&lr, everything, view, n: 3000, seed: 3)
        #expect(c[1] > c[0] + c[2], "\(c)")
    }

    @Test func leastRequestRespectsTheLimit() {
        var lr = LeastRequest(weights: [1, 1])
        var view = TestBackends(count: 2)
        view.inFlight = [0, 8]
        view.limit = 8
        #expect(counts(&lr, Eligibility(filter: .none, limited: true, now: 0), view, n: 50) == [50, 0, 0])
    }

    @Test func maglevSendsAKeyToOneMemberAndFailsOverToTheNextOwner() {
        var m = Maglev(names: ["a", "b", "c"], weights: [1, 1, 1])
        let view = TestBackends(count: 3)
        var random = FastRandom(seed: 1)
        let key = Maglev.hash(Array("client-42".utf8))
        let owner = m.pick(everything, in: view, key: key, random: &random)!
        #expect(counts(&m, everything, view, n: 10, key: key) == (0..<4).map { $0 == owner ? 10 : 0 })
        let other = m.pick(Eligibility(filter: .none, tried: [owner], now: 0), in: view, key: key, random: &random)!
        #expect(other != owner)
        m.weightChanged(0, at: owner)  // ignored: ramps must not move keys
        let again = m.pick(everything, in: view, key: key, random: &random)
        #expect(again == owner)
    }

    @Test func theBalancerEnumPicksExactlyAsItsAlgorithm() {
        let view = TestBackends(count: 3)
        var rr = SmoothWeightedRoundRobin(weights: [5, 3, 1])
        var b = Balancer.roundRobin(SmoothWeightedRoundRobin(weights: [5, 3, 1]))
        var r1 = FastRandom(seed: 9)
        var r2 = FastRandom(seed: 9)
        let viaEnum = (0..<27).map { _ in b.pick(everything, in: view, key: 0, random: &r1) }
        let direct = (0..<27).map { _ in rr.pick(everything, in: view, key: 0, random: &r2) }
        #expect(viaEnum == direct)

        var wr = WeightedRandom(weights: [5, 3, 1])
        var bw = Balancer.random(wr)
        #expect(counts(&bw, everything, view, n: 27, seed: 4) == counts(&wr, everything, view, n: 27, seed: 4))
        bw.weightChanged(0, at: 0)
        wr.weightChanged(0, at: 0)
        #expect(bw.weight(at: 0) == 0 && bw.count == 3)
        let after = counts(&bw, everything, view, n: 27, seed: 4)
        #expect(after == counts(&wr, everything, view, n: 27, seed: 4))
        #expect(after[0] == 0)
    }

    @Test func aBalancerRampsRoundRobinInPlace() {
        var b = Balancer.roundRobin(SmoothWeightedRoundRobin(weights: [100, 100]))
        b.weightChanged(10, at: 1)
        #expect(b.weight(at: 1) == 10)
        var picker = b
        #expect(counts(&picker, everything, TestBackends(count: 2), n: 110) == [100, 10, 0])
        var empty = Balancer.empty
        #expect(counts(&empty, everything, TestBackends(count: 0), n: 3) == [3])
        #expect(!Balancer.empty.hasEligible(everything, in: TestBackends(count: 0)))
        var view = TestBackends(count: 2)
        view.available[0] = false
        let healthyOnly = Eligibility(filter: .available, now: 0)
        #expect(b.hasEligible(healthyOnly, in: view))
        #expect(!b.hasEligible(Eligibility(filter: .available, tried: [1], now: 0), in: view))
        #expect(Balancer.hash(Maglev(names: ["a", "b"], weights: [1, 0])).hasEligible(healthyOnly, in: view) == false)
    }
}

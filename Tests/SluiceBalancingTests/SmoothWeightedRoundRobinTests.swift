import Testing

@testable import SluiceBalancing

@Suite struct SmoothWeightedRoundRobinTests {
    @Test func fiveThreeOneIsExactOverEachWindowAndInterleaved() {
        var rr = SmoothWeightedRoundRobin(weights: [5, 3, 1])
        var counts = [0, 0, 0]
        var firstWindow: [Int] = []
        for k in 0..<9000 {
            let i = rr.next()!
            counts[i] += 1
            if k < 9 { firstWindow.append(i) }
        }
        #expect(counts == [5000, 3000, 1000])
        #expect(firstWindow.filter { $0 == 0 }.count == 5)
        // Interleaved: the heaviest member never runs more than twice in a row here.
        #expect(!firstWindow.starts(with: [0, 0, 0]))
    }

    @Test func ineligibleMembersAreSkippedAndTheRestKeepTheirRatio() {
        var rr = SmoothWeightedRoundRobin(weights: [5, 3, 1])
        var counts = [0, 0, 0]
        for _ in 0..<800 { counts[rr.next { $0 != 0 }!] += 1 }
        #expect(counts == [0, 600, 200])
    }

    @Test func noEligibleMemberGivesNil() {
        var rr = SmoothWeightedRoundRobin(weights: [1, 0])
        #expect(rr.next { $0 == 1 } == nil)
        rr.setWeight(2, at: 1)
        #expect(rr.next { $0 == 1 } == 1)
    }
}

import Testing

@testable import SluiceBenchKit

/// The issue-8 case schedules, with the default parameters (2 backends × 8 at once, 20 ms:
/// capacity 800/s; baseline 400/s).
@Suite struct CasePlanTests {
    let p = CaseParameters()

    @Test func defaultCapacityAndBaselineFollowFromTheBackends() {
        #expect(p.capacity == 800)
        #expect(p.baselineRate == 400)
    }

    @Test func flashSaleOffersBaselineThenThreeAndTenTimesCapacityForTenSecondsEach() {
        let plan = CasePlan.make(.flashSale, p)
        #expect(plan.phases.map(\.name) == ["warmup", "baseline", "spike-3x", "after-3x", "spike-10x", "after-10x"])
        #expect(plan.phases.filter(\.isSpike).map(\.seconds) == [10, 10])
        #expect(plan.totalSeconds == 45)
        // Second by second: 0-6 baseline, 7-16 at 3x, 17-24 baseline, 25-34 at 10x, 35-44 baseline.
        #expect(plan.totalRate(second: 6) == 400)
        #expect(plan.totalRate(second: 7) == 2400)
        #expect(plan.totalRate(second: 16) == 2400)
        #expect(plan.totalRate(second: 17) == 400)
        #expect(plan.totalRate(second: 25) == 8000)
        #expect(plan.totalRate(second: 34) == 8000)
        #expect(plan.totalRate(second: 35) == 400)
        #expect(plan.totalRate(second: 45) == 0)
        #expect(plan.phaseIndex(atSecond: 45) == nil)
    }

    @Test func mixIsTenPercentCheckoutAndNinetyPercentBrowsingInEveryPhase() {
        let plan = CasePlan.make(.mix, p)
        #expect(plan.groups == ["checkout", "browse"])
        #expect(plan.criticalGroup == "checkout")
        #expect(plan.streams[0].path.hasPrefix("/checkout/"))
        #expect(plan.streams[1].path.hasPrefix("/products/"))
        let spike = plan.startSecond(ofPhase: 2)
        #expect(plan.rate(stream: 0, second: spike) == 240)
        #expect(plan.rate(stream: 1, second: spike) == 2160)
        #expect(plan.rate(stream: 0, second: 0) == 40)
        #expect(plan.rate(stream: 1, second: 0) == 360)
        #expect(plan.totalSeconds < 60)
    }

    @Test func slowdownDoublesTheServiceTimeAfterTheBaselineAndHalvesCapacity() {
        let plan = CasePlan.make(.slowdown, p)
        #expect(plan.adaptive)
        #expect(plan.changes == [BackendChange(atSecond: 10, serviceTimeMillis: 40)])
        #expect(plan.serviceTimeMillis(atSecond: 9) == 20)
        #expect(plan.serviceTimeMillis(atSecond: 10) == 40)
        #expect(plan.capacity(atSecond: 9) == 800)
        #expect(plan.capacity(atSecond: 24) == 400)
        // 600/s throughout: 75% of the old capacity, 150% of the new one.
        #expect((0..<plan.totalSeconds).allSatisfy { plan.totalRate(second: $0) == 600 })
    }

    @Test func abuserIsSilentInTheBaselineThenSendsTwentyTimesOneClientsRate() {
        let plan = CasePlan.make(.abuser, p)
        let others = plan.streams.indices.filter { plan.streams[$0].group == "others" }
        let abuser = plan.streams.indices.first { plan.streams[$0].group == "abuser" }!
        #expect(others.count == 10)
        #expect(plan.protectedGroup == "others")
        // Every client has its own key.
        #expect(Set(plan.streams.map(\.headers)).count == 11)
        let abuse = plan.startSecond(ofPhase: 2)
        #expect(plan.rate(stream: abuser, second: abuse - 1) == 0)
        #expect(plan.rate(stream: abuser, second: abuse) == 800)
        #expect(others.allSatisfy { plan.rate(stream: $0, second: abuse) == 40 && plan.rate(stream: $0, second: 0) == 40 })
        #expect(plan.rateLimitPerClient == 80)
        #expect(String(decoding: plan.streams[abuser].request, as: UTF8.self).contains("\r\nX-Client-Id: abuser\r\n"))
    }

    @Test func everyIssue8CaseStaysUnderSixtySecondsAndTheHotPageUnderNinety() {
        for c in BenchCase.allCases where c != .hotPage { #expect(CasePlan.make(c, p).totalSeconds < 60, "\(c)") }
        #expect(CasePlan.make(.hotPage, p).totalSeconds <= 90)
    }
}

/// How the client classifies what a request ended as.
@Suite struct OutcomeTests {
    @Test func statusAndRetryAfterDecideTheOutcome() {
        #expect(Outcome.classify(status: 200, retryAfter: nil) == .success)
        #expect(Outcome.classify(status: 204, retryAfter: 3) == .success)
        #expect(Outcome.classify(status: 503, retryAfter: 2) == .r503RetryAfter)
        #expect(Outcome.classify(status: 503, retryAfter: nil) == .r503Bare)
        #expect(Outcome.classify(status: 429, retryAfter: 0) == .r429RetryAfter)
        #expect(Outcome.classify(status: 429, retryAfter: nil) == .r429Bare)
        #expect(Outcome.classify(status: 502, retryAfter: 1) == .otherStatus)
        #expect(Outcome.classify(status: 504, retryAfter: nil) == .otherStatus)
        #expect(Outcome.classify(status: 301, retryAfter: nil) == .otherStatus)
    }

    @Test func retryAfterParsesDelaySecondsOnly() {
        #expect(RetryAfter.seconds(Array("7".utf8)) == 7)
        #expect(RetryAfter.seconds(Array(" 12 ".utf8)) == 12)
        #expect(RetryAfter.seconds(Array("0".utf8)) == 0)
        #expect(RetryAfter.seconds(Array("".utf8)) == nil)
        #expect(RetryAfter.seconds(Array("1 2".utf8)) == nil)
        #expect(RetryAfter.seconds(Array("-1".utf8)) == nil)
        #expect(RetryAfter.seconds(Array("Wed, 21 Oct 2015 07:28:00 GMT".utf8)) == nil)
        #expect(RetryAfter.isName(Array("Retry-After".utf8)))
        #expect(RetryAfter.isName(Array("retry-after".utf8)))
        #expect(!RetryAfter.isName(Array("Retry-Afte".utf8)))
        #expect(!RetryAfter.isName(Array("X-Retry-After".utf8)))
    }
}

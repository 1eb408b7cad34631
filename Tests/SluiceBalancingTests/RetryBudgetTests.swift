import Testing

@testable import SluiceBalancing

@Suite struct RetryBudgetTests {
    @Test func aQuietClusterMayAlwaysRunThreeRetries() {
        let b = RetryBudget(ratio: 0.2)
        #expect(b.allows(retriesInFlight: 0, requestsInFlight: 0))
        #expect(b.allows(retriesInFlight: 2, requestsInFlight: 1))
        #expect(!b.allows(retriesInFlight: 3, requestsInFlight: 1))
    }

    @Test func underLoadRetriesAreAShareOfRequestsInFlight() {
        let b = RetryBudget(ratio: 0.2)
        #expect(b.allows(retriesInFlight: 19, requestsInFlight: 100))
        #expect(!b.allows(retriesInFlight: 20, requestsInFlight: 100))
        #expect(!RetryBudget(ratio: 0).allows(retriesInFlight: 3, requestsInFlight: 1000))
    }
}

import SluiceCache
import Testing

/// RFC 9111 §4.2, §4.2.4, §5.2.1 and RFC 5861: may a stored response answer this request now?
@Suite struct ServeTests {
    /// Stored at t = 1000 s on the monotonic clock, with no initial age.
    func stored(
        lifetime: Int = 60, mustRevalidate: Bool = false, noCache: Bool = false, swr: Int = 0, sie: Int = 0, sio: Int = 0
    ) -> StoredFreshness {
        StoredFreshness(
            lifetime: lifetime, initialAge: 0, storedAt: 1_000 * second, mustRevalidate: mustRevalidate, noCache: noCache,
            staleWhileRevalidate: swr, staleIfError: sie, staleIfOverloaded: sio)
    }

    /// `seconds` after it was stored.
    func at(_ seconds: Double) -> UInt64 { 1_000 * second + UInt64(seconds * 1e9) }

    @Test func section4_2_freshWhileAgeIsBelowTheLifetime() {
        let s = stored(lifetime: 60)
        #expect(CacheRules.serve(s, request: request(), now: at(0)) == .fresh)
        #expect(CacheRules.serve(s, request: request(), now: at(59.9)) == .fresh)
        #expect(CacheRules.serve(s, request: request(), now: at(60)) == .revalidate)
    }

    @Test func section4_2_theInitialAgeCounts() {
        var s = stored(lifetime: 60)
        s.initialAge = 50
        #expect(CacheRules.serve(s, request: request(), now: at(9)) == .fresh)
        #expect(CacheRules.serve(s, request: request(), now: at(10)) == .revalidate)
    }

    @Test func section5_2_1_4_requestNoCacheRevalidatesAFreshResponse() {
        #expect(CacheRules.serve(stored(), request: request("Cache-Control: no-cache"), now: at(1)) == .revalidate)
    }

    @Test func section5_4_pragmaNoCacheRevalidatesOnlyWithoutCacheControl() {
        #expect(CacheRules.serve(stored(), request: request("Pragma: no-cache"), now: at(1)) == .revalidate)
        #expect(CacheRules.serve(stored(), request: request("Pragma: no-cache", "Cache-Control: max-stale=5"), now: at(1)) == .fresh)
    }

    @Test func section5_2_1_1_requestMaxAge() {
        let s = stored(lifetime: 60)
        #expect(CacheRules.serve(s, request: request("Cache-Control: max-age=0"), now: at(0)) == .revalidate)
        #expect(CacheRules.serve(s, request: request("Cache-Control: max-age=10"), now: at(10.5)) == .fresh)
        #expect(CacheRules.serve(s, request: request("Cache-Control: max-age=10"), now: at(11)) == .revalidate)
        // A larger max-age does not make a stale response fresh.
        #expect(CacheRules.serve(s, request: request("Cache-Control: max-age=600"), now: at(61)) == .revalidate)
    }

    @Test func section5_2_1_3_requestMinFresh() {
        let s = stored(lifetime: 60)
        #expect(CacheRules.serve(s, request: request("Cache-Control: min-fresh=20"), now: at(40)) == .fresh)
        #expect(CacheRules.serve(s, request: request("Cache-Control: min-fresh=20"), now: at(41)) == .revalidate)
    }

    @Test func section5_2_1_2_requestMaxStale() {
        let s = stored(lifetime: 60)
        #expect(CacheRules.serve(s, request: request("Cache-Control: max-stale=10"), now: at(69.5)) == .fresh)
        #expect(CacheRules.serve(s, request: request("Cache-Control: max-stale=10"), now: at(70)) == .revalidate)
        #expect(CacheRules.serve(s, request: request("Cache-Control: max-stale"), now: at(1e6)) == .fresh)
    }

    @Test func section5_2_2_4_responseNoCacheAlwaysRevalidates() {
        let s = stored(lifetime: 60, noCache: true, swr: 100)
        #expect(CacheRules.serve(s, request: request(), now: at(1)) == .revalidate)
        #expect(CacheRules.serve(s, request: request("Cache-Control: max-stale"), now: at(61)) == .revalidate)
    }

    @Test func section4_2_4_mustRevalidateIsNeverServedStale() {
        let s = stored(lifetime: 60, mustRevalidate: true, swr: 100, sie: 100, sio: 100)
        #expect(CacheRules.serve(s, request: request(), now: at(59)) == .fresh)
        #expect(CacheRules.serve(s, request: request(), now: at(61)) == .revalidate)
        #expect(CacheRules.serve(s, request: request("Cache-Control: max-stale"), now: at(61)) == .revalidate)
        #expect(!CacheRules.mayServeOnError(s, request: request(), now: at(61)))
        #expect(!CacheRules.mayServeWhenOverloaded(s, request: request(), now: at(61)))
        #expect(CacheRules.mayServeOnError(s, request: request(), now: at(59)))
    }

    @Test func rfc5861_section3_staleWhileRevalidateWindow() {
        let s = stored(lifetime: 60, swr: 10)
        #expect(CacheRules.serve(s, request: request(), now: at(60)) == .staleWhileRevalidate)
        #expect(CacheRules.serve(s, request: request(), now: at(69.9)) == .staleWhileRevalidate)
        #expect(CacheRules.serve(s, request: request(), now: at(70)) == .revalidate)
        #expect(CacheRules.serve(stored(lifetime: 60, swr: 0), request: request(), now: at(60)) == .revalidate)
        #expect(CacheRules.serve(s, request: request("Cache-Control: no-cache"), now: at(61)) == .revalidate)
    }

    @Test func rfc5861_staleWindowsFromTheResponseOrThePolicy() {
        let policy = CachePolicy(staleWhileRevalidate: 30, staleIfError: 300)
        let fromPolicy = CacheRules.storedFreshness(
            response(200, "Cache-Control: max-age=60"), policy: policy, requestTimeWall: 0, responseTimeWall: 0, storedAt: 1_000 * second)
        let fromResponse = CacheRules.storedFreshness(
            response(200, "Cache-Control: max-age=60, stale-while-revalidate=5, stale-if-error=20"), policy: policy, requestTimeWall: 0,
            responseTimeWall: 0, storedAt: 1_000 * second)
        #expect(CacheRules.serve(fromPolicy, request: request(), now: at(80)) == .staleWhileRevalidate)
        #expect(CacheRules.serve(fromResponse, request: request(), now: at(80)) == .revalidate)
        #expect(CacheRules.mayServeOnError(fromPolicy, request: request(), now: at(300)))
        #expect(!CacheRules.mayServeOnError(fromResponse, request: request(), now: at(80)))
        #expect(CacheRules.mayServeOnError(fromResponse, request: request(), now: at(79)))
    }

    @Test func rfc5861_section4_staleIfErrorWindow() {
        let s = stored(lifetime: 60, sie: 300)
        #expect(CacheRules.mayServeOnError(s, request: request(), now: at(359)))
        #expect(!CacheRules.mayServeOnError(s, request: request(), now: at(360)))
        #expect(!CacheRules.mayServeOnError(stored(lifetime: 60), request: request(), now: at(61)))
        // A fresh entry may always stand in for a failed revalidation (e.g. one a no-cache request forced).
        #expect(CacheRules.mayServeOnError(stored(lifetime: 60), request: request("Cache-Control: no-cache"), now: at(10)))
    }

    @Test func rfc5861_section4_requestStaleIfErrorNarrowsTheWindow() {
        let s = stored(lifetime: 60, sie: 300)
        #expect(!CacheRules.mayServeOnError(s, request: request("Cache-Control: stale-if-error=10"), now: at(70)))
        #expect(CacheRules.mayServeOnError(s, request: request("Cache-Control: stale-if-error=10"), now: at(69)))
        #expect(
            !CacheRules.mayServeOnError(stored(lifetime: 60, sie: 5), request: request("Cache-Control: stale-if-error=100"), now: at(70)))
    }

    @Test func rfc5861_section4_requestNoCacheDoesNotForbidStaleIfError() {
        let s = stored(lifetime: 60, sie: 300)
        #expect(CacheRules.mayServeOnError(s, request: request("Cache-Control: no-cache"), now: at(100)))
        #expect(CacheRules.mayServeOnError(s, request: request("Cache-Control: max-age=0"), now: at(100)))
    }

    @Test func section5_2_2_4_noCacheResponsesAreNotServedInsteadOfAnError() {
        let s = stored(lifetime: 60, noCache: true, sie: 300, sio: 300)
        #expect(!CacheRules.mayServeOnError(s, request: request(), now: at(10)))
        #expect(!CacheRules.mayServeWhenOverloaded(s, request: request(), now: at(10)))
    }

    @Test func sluiceStaleIfOverloadedWindow() {
        let s = stored(lifetime: 60, sio: 60)
        #expect(CacheRules.mayServeWhenOverloaded(s, request: request(), now: at(119)))
        #expect(!CacheRules.mayServeWhenOverloaded(s, request: request(), now: at(120)))
        #expect(!CacheRules.mayServeWhenOverloaded(stored(lifetime: 60), request: request(), now: at(61)))
        #expect(CacheRules.mayServeWhenOverloaded(stored(lifetime: 60), request: request(), now: at(30)))
    }
}

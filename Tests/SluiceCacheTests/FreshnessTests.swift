import SluiceCache
import Testing

/// RFC 9111 §4.2.1 (freshness lifetime) and §4.2.3 (age), with given wall-clock times.
@Suite struct FreshnessTests {
    let policy = CachePolicy(defaultTTL: 60, maxTTL: 3600)
    let now: Int64 = 1_700_000_000

    func lifetime(_ r: ResponseFacts, _ policy: CachePolicy? = nil) -> Int {
        CacheRules.freshnessLifetime(r, policy: policy ?? self.policy, responseTimeWall: now)
    }

    @Test func section4_2_1_sMaxageWinsOverMaxAgeAndExpires() {
        let r = response(
            200, "Cache-Control: max-age=100, s-maxage=20", "Date: Tue, 14 Nov 2023 22:13:20 GMT", "Expires: Tue, 14 Nov 2023 22:30:00 GMT")
        #expect(lifetime(r) == 20)
    }

    @Test func section4_2_1_maxAgeWinsOverExpires() {
        let r = response(200, "Cache-Control: max-age=100", "Date: Tue, 14 Nov 2023 22:13:20 GMT", "Expires: Tue, 14 Nov 2023 22:30:00 GMT")
        #expect(lifetime(r) == 100)
    }

    @Test func section4_2_1_expiresMinusDate() {
        let r = response(200, "Date: Tue, 14 Nov 2023 22:13:20 GMT", "Expires: Tue, 14 Nov 2023 22:23:20 GMT")
        #expect(lifetime(r) == 600)
    }

    @Test func section4_2_1_expiresWithoutDateCountsFromTheResponseTime() {
        // The Date field, when present, is what counts: here the response was generated an hour ago.
        let dated = response(200, "Date: Tue, 14 Nov 2023 21:13:20 GMT", "Expires: Tue, 14 Nov 2023 21:23:20 GMT")
        #expect(lifetime(dated) == 600)
        let undated = response(200, "Expires: Tue, 14 Nov 2023 22:23:20 GMT")
        #expect(lifetime(undated) == 600)
        #expect(lifetime(response(200, "Expires: Tue, 14 Nov 2023 21:23:20 GMT")) == 0)
        let invalidDate = response(200, "Date: yesterday", "Expires: Tue, 14 Nov 2023 22:23:20 GMT")
        #expect(lifetime(invalidDate) == 600)
    }

    @Test func section5_3_expiresInThePastOrInvalidIsStale() {
        #expect(lifetime(response(200, "Expires: Tue, 14 Nov 2023 22:00:00 GMT")) == 0)
        #expect(lifetime(response(200, "Expires: 0")) == 0)
        #expect(lifetime(response(200, "Expires: never")) == 0)
        #expect(lifetime(response(200, "Expires: 0", "Date: Tue, 14 Nov 2023 22:13:20 GMT")) == 0)
    }

    @Test func section4_2_2_defaultTTLOnlyWithoutExplicitFreshness() {
        #expect(lifetime(response(200)) == 60)
        #expect(lifetime(response(404)) == 60)
        #expect(lifetime(response(200, "Cache-Control: max-age=0")) == 0)
        #expect(lifetime(response(500)) == 0)
        #expect(lifetime(response(302)) == 0)
        #expect(lifetime(response(500, "Cache-Control: public")) == 60)
        #expect(lifetime(response(200), CachePolicy()) == 0)
    }

    @Test func maxTTLCapsEveryLifetime() {
        let capped = CachePolicy(defaultTTL: 9000, maxTTL: 300)
        #expect(lifetime(response(200, "Cache-Control: max-age=86400"), capped) == 300)
        #expect(lifetime(response(200, "Cache-Control: s-maxage=86400"), capped) == 300)
        #expect(lifetime(response(200, "Expires: Sun, 06 Nov 2094 08:49:37 GMT"), capped) == 300)
        #expect(lifetime(response(200), capped) == 300)
        #expect(lifetime(response(200, "Cache-Control: max-age=99999999999"), CachePolicy(maxTTL: Int.max)) == 2_147_483_648)
    }

    @Test func section4_2_3_apparentAgeFromDate() {
        // Date 30 s before the response arrived, no Age, 1 s round trip: apparent age wins.
        let r = response(200, "Date: Tue, 14 Nov 2023 22:12:50 GMT")
        #expect(CacheRules.initialAge(r, requestTimeWall: now - 1, responseTimeWall: now) == 30)
    }

    @Test func section4_2_3_correctedAgeFromAgeAndTheRoundTrip() {
        // Age 100 from upstream, 2 s between request and response, Date says 10 s.
        let r = response(200, "Age: 100", "Date: Tue, 14 Nov 2023 22:13:10 GMT")
        #expect(CacheRules.initialAge(r, requestTimeWall: now - 2, responseTimeWall: now) == 102)
    }

    @Test func section4_2_3_aDateInTheFutureGivesNoNegativeAge() {
        let r = response(200, "Date: Tue, 14 Nov 2023 23:00:00 GMT")
        #expect(CacheRules.initialAge(r, requestTimeWall: now, responseTimeWall: now) == 0)
        #expect(CacheRules.initialAge(response(200), requestTimeWall: now, responseTimeWall: now) == 0)
        #expect(CacheRules.initialAge(response(200), requestTimeWall: now + 5, responseTimeWall: now) == 0)
    }

    @Test func section4_2_3_currentAgeAddsWholeSecondsOfResidence() {
        let s = CacheRules.storedFreshness(
            response(200, "Age: 7", "Cache-Control: max-age=60"), policy: policy, requestTimeWall: now, responseTimeWall: now,
            storedAt: 1_000 * second)
        #expect(s.initialAge == 7)
        #expect(CacheRules.currentAge(s, now: 1_000 * second) == 7)
        #expect(CacheRules.currentAge(s, now: 1_000 * second + second - 1) == 7)
        #expect(CacheRules.currentAge(s, now: 1_003 * second + second / 2) == 10)
        #expect(CacheRules.currentAge(s, now: 999 * second) == 7)
    }

    @Test func storedFreshnessTakesResponseDirectivesElsePolicy() {
        let p = CachePolicy(defaultTTL: 60, staleWhileRevalidate: 10, staleIfError: 300, staleIfOverloaded: 60)
        let plain = CacheRules.storedFreshness(response(200), policy: p, requestTimeWall: now, responseTimeWall: now, storedAt: 5)
        #expect(
            plain
                == StoredFreshness(
                    lifetime: 60, initialAge: 0, storedAt: 5, mustRevalidate: false, noCache: false, staleWhileRevalidate: 10,
                    staleIfError: 300, staleIfOverloaded: 60))
        let own = CacheRules.storedFreshness(
            response(200, "Cache-Control: max-age=5, stale-while-revalidate=2, stale-if-error=0, no-cache"), policy: p,
            requestTimeWall: now, responseTimeWall: now, storedAt: 5)
        #expect(own.lifetime == 5 && own.staleWhileRevalidate == 2 && own.staleIfError == 0 && own.noCache)
        #expect(own.staleIfOverloaded == 60 && !own.mustRevalidate)
    }

    @Test func section4_2_4_revalidateDirectivesAndSMaxageForbidStaleUse() {
        let p = CachePolicy(staleIfOverloaded: 60)
        for cc in ["must-revalidate, max-age=5", "proxy-revalidate, max-age=5", "s-maxage=5"] {
            let s = CacheRules.storedFreshness(
                response(200, "Cache-Control: " + cc), policy: p, requestTimeWall: now, responseTimeWall: now, storedAt: 0)
            #expect(s.mustRevalidate && s.staleIfOverloaded == 0, "\(cc)")
        }
    }
}

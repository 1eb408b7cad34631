import SluiceCache
import SluiceHTTP
import Testing

/// RFC 9111 §3 (and §3.5, §4.1, §5.2): may a response be stored at all?
@Suite struct StorabilityTests {
    let withDefault = CachePolicy(defaultTTL: 60)
    let explicitOnly = CachePolicy()

    func verdict(
        _ r: ResponseFacts, method: Method = .get, request q: RequestFacts = RequestFacts(),
        policy: CachePolicy = CachePolicy(defaultTTL: 60)
    ) -> NotStoredReason? {
        CacheRules.storability(method: method, request: q, response: r, policy: policy)
    }

    @Test func section3_only200ClassDefaultsGetDefaultTTL() {
        for status in [200, 203, 204, 300, 301, 308, 404, 410] {
            #expect(verdict(response(status)) == nil, "\(status)")
            #expect(verdict(response(status), policy: explicitOnly) == .noFreshness, "\(status)")
        }
    }

    @Test func section3_302And307NeedExplicitFreshness() {
        #expect(verdict(response(302)) == .status)
        #expect(verdict(response(307)) == .status)
        #expect(verdict(response(302, "Cache-Control: max-age=60")) == nil)
        #expect(verdict(response(307, "Expires: Sun, 06 Nov 2094 08:49:37 GMT")) == nil)
    }

    @Test func section3_serverErrorsAreNotStoredUnlessTheResponseAllowsIt() {
        for status in [500, 502, 503, 504] {
            #expect(verdict(response(status)) == .status, "\(status)")
            #expect(verdict(response(status, "Cache-Control: max-age=10")) == nil, "\(status)")
            #expect(verdict(response(status, "Cache-Control: s-maxage=10")) == nil, "\(status)")
        }
    }

    @Test func section3_clientErrorsOtherThan404And410NeedExplicitFreshness() {
        for status in [400, 401, 403, 405, 414, 429, 501] {
            #expect(verdict(response(status)) == .status, "\(status)")
            #expect(verdict(response(status, "Cache-Control: max-age=10")) == nil, "\(status)")
        }
        #expect(verdict(response(404)) == nil)
        #expect(verdict(response(410)) == nil)
    }

    @Test func section3_publicAllowsAnyFinalStatusWithTheDefaultTTL() {
        #expect(verdict(response(500, "Cache-Control: public")) == nil)
        #expect(verdict(response(500, "Cache-Control: public"), policy: explicitOnly) == .noFreshness)
    }

    @Test func section3_partialContentIsNeverStored() {
        #expect(verdict(response(206, "Content-Range: bytes 0-9/100", "Cache-Control: max-age=60, public")) == .partialContent)
        #expect(verdict(response(200, "Content-Range: bytes 0-9/100", "Cache-Control: max-age=60")) == .partialContent)
    }

    @Test func section3_304AndInterimResponsesAreNeverNewEntries() {
        #expect(verdict(response(304, "Cache-Control: max-age=60")) == .status)
        #expect(verdict(response(103, "Cache-Control: max-age=60")) == .status)
    }

    @Test func section3_onlyGETStores() {
        let r = response(200, "Cache-Control: max-age=60")
        #expect(verdict(r) == nil)
        for m in [Method.head, .post, .put, .delete, .options, .patch, .other] {
            #expect(verdict(r, method: m) == .method, "\(m)")
        }
    }

    @Test func section5_2_1_5_requestNoStore() {
        #expect(verdict(response(200, "Cache-Control: max-age=60"), request: request("Cache-Control: no-store")) == .requestNoStore)
    }

    @Test func section5_2_2_5_responseNoStore() {
        #expect(verdict(response(200, "Cache-Control: max-age=60, no-store")) == .noStore)
        #expect(verdict(response(200, "Cache-Control: public", "Cache-Control: no-store")) == .noStore)
        #expect(verdict(response(200, "Cache-Control: must-understand, no-store")) == .noStore)
    }

    @Test func section5_2_2_7_privateIsNotStoredByASharedCache() {
        #expect(verdict(response(200, "Cache-Control: private, max-age=60")) == .privateResponse)
        #expect(verdict(response(200, "Cache-Control: private=\"X-User\", max-age=60")) == .privateResponse)
    }

    @Test func setCookieIsNeverStored() {
        #expect(verdict(response(200, "Set-Cookie: session=1", "Cache-Control: public, max-age=60")) == .setCookie)
        #expect(verdict(response(200, "set-cookie: a=b")) == .setCookie)
    }

    @Test func section3_5_authorizationNeedsPublicSMaxageOrMustRevalidate() {
        let auth = request("Authorization: Basic dTpw")
        #expect(verdict(response(200, "Cache-Control: max-age=60"), request: auth) == .authorization)
        #expect(verdict(response(200), request: auth) == .authorization)
        #expect(verdict(response(200, "Cache-Control: max-age=60, public"), request: auth) == nil)
        #expect(verdict(response(200, "Cache-Control: s-maxage=60"), request: auth) == nil)
        #expect(verdict(response(200, "Cache-Control: max-age=60, must-revalidate"), request: auth) == nil)
        #expect(verdict(response(200, "Cache-Control: max-age=60, proxy-revalidate"), request: auth) == .authorization)
    }

    @Test func section4_1_varyStarIsNeverStored() {
        #expect(verdict(response(200, "Cache-Control: max-age=60", "Vary: *")) == .varyStar)
    }

    @Test func varyNamingMoreThanFourHeadersIsNotStored() {
        #expect(verdict(response(200, "Vary: a, b, c, d")) == nil)
        #expect(verdict(response(200, "Vary: a, b, c, d, A")) == nil)
        #expect(verdict(response(200, "Vary: a, b, c", "Vary: d, e")) == .varyTooMany)
    }

    @Test func section4_2_1_explicitFreshnessOfZeroIsStoredForRevalidation() {
        #expect(verdict(response(200, "Cache-Control: max-age=0"), policy: explicitOnly) == nil)
        #expect(verdict(response(200, "Expires: 0"), policy: explicitOnly) == nil)
        #expect(verdict(response(200, "Cache-Control: no-cache"), policy: explicitOnly) == .noFreshness)
    }

    @Test func section3_theFirstBrokenRuleIsReported() {
        let r = response(206, "Cache-Control: no-store, private", "Set-Cookie: a=b", "Vary: *")
        #expect(verdict(r, method: .post) == .method)
        #expect(verdict(r, request: request("Cache-Control: no-store")) == .requestNoStore)
        #expect(verdict(r) == .partialContent)
        #expect(verdict(response(200, "Cache-Control: no-store, private", "Set-Cookie: a=b")) == .noStore)
        #expect(verdict(response(200, "Cache-Control: private", "Set-Cookie: a=b")) == .privateResponse)
        #expect(verdict(response(200, "Set-Cookie: a=b", "Vary: *"), request: request("Authorization: x")) == .setCookie)
    }
}

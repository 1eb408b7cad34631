import SluiceCache
import Testing

/// RFC 9111 §5.2 and RFC 5861 directives, parsed from real heads.
@Suite struct CacheControlTests {
    @Test func section5_2_everyKnownDirectiveIsRead() {
        let cc = cacheControl(
            "max-age=60, s-maxage=30, no-store, no-cache, private, public, must-revalidate, proxy-revalidate",
            "no-transform, only-if-cached, immutable, must-understand, max-stale=5, min-fresh=7",
            "stale-while-revalidate=9, stale-if-error=11")
        #expect(cc.maxAge == 60 && cc.sMaxAge == 30)
        #expect(cc.noStore && cc.noCache && cc.isPrivate && cc.isPublic && cc.mustRevalidate && cc.proxyRevalidate)
        #expect(cc.noTransform && cc.onlyIfCached && cc.immutable && cc.mustUnderstand)
        #expect(cc.maxStale == 5 && cc.minFresh == 7 && cc.staleWhileRevalidate == 9 && cc.staleIfError == 11)
    }

    @Test func section5_2_noFieldMeansNothingSet() {
        #expect(TestHead.response(200, ["Content-Type: text/html"]).cc == CacheControl())
    }

    @Test func section5_2_namesAreCaseInsensitive() {
        let cc = cacheControl("MAX-AGE=10, No-Store, PUBLIC")
        #expect(cc.maxAge == 10 && cc.noStore && cc.isPublic)
    }

    @Test func section5_2_quotedValuesAreAccepted() {
        let cc = cacheControl("max-age=\"60\", stale-if-error=\"5\"")
        #expect(cc.maxAge == 60 && cc.staleIfError == 5)
    }

    @Test func section5_2_spacesAndEmptyListElementsAreTolerated() {
        let cc = cacheControl(" ,, max-age = 60 ,\tno-cache ,  , public,")
        #expect(cc.maxAge == 60 && cc.noCache && cc.isPublic)
    }

    @Test func section5_2_aCommaInsideAQuotedValueDoesNotSplit() {
        let cc = cacheControl("no-cache=\"set-cookie, x-max-age=1\", max-age=5")
        #expect(cc.noCache && cc.maxAge == 5)
    }

    @Test func section5_2_everyCacheControlFieldLineIsMerged() {
        let cc = cacheControl("public", "max-age=60", "stale-while-revalidate=30")
        #expect(cc.isPublic && cc.maxAge == 60 && cc.staleWhileRevalidate == 30)
    }

    @Test func section5_2_3_unknownDirectivesAreIgnored() {
        let cc = cacheControl("community=\"UCI\", max-age=9, foo, max-ages=1, x=y")
        var expected = CacheControl()
        expected.maxAge = 9
        #expect(cc == expected)
    }

    @Test func section4_2_1_invalidMaxAgeMeansStale() {
        #expect(cacheControl("max-age=abc").maxAge == 0)
        #expect(cacheControl("max-age").maxAge == 0)
        #expect(cacheControl("max-age=-5").maxAge == 0)
        #expect(cacheControl("max-age=1.5").maxAge == 0)
        #expect(cacheControl("s-maxage=x").sMaxAge == 0)
    }

    @Test func section4_2_1_conflictingDuplicateMaxAgeMeansStale() {
        #expect(cacheControl("max-age=60, max-age=120").maxAge == 0)
        #expect(cacheControl("max-age=60", "max-age=30").maxAge == 0)
        #expect(cacheControl("s-maxage=60, s-maxage=61").sMaxAge == 0)
        #expect(cacheControl("max-age=abc, max-age=60").maxAge == 0)
    }

    @Test func section4_2_1_anIdenticalDuplicateIsHarmless() {
        #expect(cacheControl("max-age=60, max-age=60").maxAge == 60)
    }

    @Test func section1_2_2_hugeDeltaSecondsSaturateAt2To31() {
        #expect(cacheControl("max-age=99999999999999999999999").maxAge == 2_147_483_648)
        #expect(cacheControl("max-age=2147483647").maxAge == 2_147_483_647)
    }

    @Test func section5_2_1_2_bareMaxStaleAcceptsAnyStaleness() {
        #expect(cacheControl("max-stale").maxStale == Int.max)
        #expect(cacheControl("max-stale=30").maxStale == 30)
        #expect(cacheControl("max-stale=abc").maxStale == nil)
    }

    @Test func section5_2_repeatedWindowsKeepTheMostRestrictive() {
        let cc = cacheControl("max-stale=30, max-stale=10, min-fresh=5, min-fresh=20, stale-if-error=60, stale-if-error=6")
        #expect(cc.maxStale == 10 && cc.minFresh == 20 && cc.staleIfError == 6)
        #expect(cacheControl("stale-while-revalidate=abc").staleWhileRevalidate == nil)
        #expect(cacheControl("min-fresh=abc").minFresh == 0)
    }

    @Test func section5_2_2_4_and_5_2_2_7_qualifiedFormsCountAsUnqualified() {
        #expect(cacheControl("no-cache=\"Set-Cookie\"").noCache)
        #expect(cacheControl("private=\"x-user\"").isPrivate)
        #expect(cacheControl("private=x-user, max-age=5").isPrivate)
    }
}

import SluiceConfig
import SluiceSystem
import Testing

@testable import SluiceDiscovery

@Suite struct MembershipLifecycleTests {
    @Test func theAPIAddsLikeAJoinAndRefusesConfiguredOrTakenNames() {
        var m = Membership(grace: 30 * second)
        _ = m.answer([backend("d1", 1)])
        #expect(m.add(backend("x", 5), source: .api, reserved: ["app1"], now: 0) == joinedChanges("x"))
        #expect(m.member(named: "x")?.source == .api)
        let refusals: [(DiscoveredBackend, String)] = [
            (backend("app1", 6), "backend \"app1\" is configured in the file; it cannot be added at run time"),
            (backend("x", 6), "backend \"x\" already exists with address 10.0.0.5:8000"),
            (backend("d1", 1), "backend \"d1\" already exists, from dns app.internal:8000"),
        ]
        for (b, message) in refusals {
            #expect(m.add(b, source: .api, reserved: ["app1"], now: 0) == .failure(MembershipError(message)))
        }
        #expect(m.table == ["d1 serving", "x serving"])
        // The same again is a no-op; another weight an update.
        #expect(m.add(backend("x", 5), source: .api, reserved: [], now: 0) == .success(MembershipChanges()))
        var updated = MembershipChanges()
        updated.updated = ["x"]
        #expect(m.add(backend("x", 5, weight: 4), source: .api, reserved: [], now: 0) == .success(updated))
    }

    @Test func theAPIRemovesByDrainingAndAddingBackRejoins() {
        var m = Membership(grace: 30 * second)
        _ = m.add(backend("x", 5), source: .api, reserved: [], now: 0)
        #expect(m.remove(named: "nope", now: 1) == .failure(MembershipError("no discovered or runtime-added backend \"nope\"")))
        var leaving = MembershipChanges()
        leaving.leaving = ["x"]
        #expect(m.remove(named: "x", now: 1) == .success(leaving))
        #expect(m.member(named: "x")?.state == .leaving(since: 1))
        #expect(m.remove(named: "x", now: 2) == .success(MembershipChanges()))
        #expect(m.member(named: "x")?.state == .leaving(since: 1))
        var rejoined = MembershipChanges()
        rejoined.rejoined = ["x"]
        #expect(m.add(backend("x", 5), source: .api, reserved: [], now: 3) == .success(rejoined))
        #expect(m.member(named: "x")?.isServing == true)
        // Removed, then added again within grace: rejoined with its state.
        _ = m.remove(named: "x", now: 4)
        #expect(m.tick(now: 5, drainTimeout: 60 * second) { _ in true }.removed == ["x"])
        #expect(m.add(backend("x", 5), source: .api, reserved: [], now: 6) == .success(rejoined))
        #expect(m.departed.isEmpty)
    }

    @Test func tickRemovesLeavingMembersWhenIdleOrAtTheDrainTimeout() {
        var m = Membership(grace: 30 * second)
        _ = m.answer([backend("a", 1), backend("b", 2), backend("c", 3), backend("d", 4)], maxRemoved: .count(3))
        _ = m.answer([backend("d", 4)], maxRemoved: .count(3), now: 10 * second)
        let busy: Set = ["b", "c", "d"]
        let first = m.tick(now: 11 * second, drainTimeout: 5 * second) { !busy.contains($0) }
        #expect(first.removed == ["a"])
        #expect(m.table == ["b leaving", "c leaving", "d serving"])
        #expect(m.tick(now: 14 * second, drainTimeout: 5 * second) { !busy.contains($0) }.isEmpty)
        let timedOut = m.tick(now: 15 * second, drainTimeout: 5 * second) { !busy.contains($0) }
        #expect(timedOut.removed == ["b", "c"])
        #expect(m.table == ["d serving"])
        #expect(m.departed["a"]?.forgetAt == 41 * second)
        #expect(m.departed["b"]?.forgetAt == 45 * second)
        // A serving member is never removed by tick, idle or not.
        #expect(m.tick(now: 16 * second, drainTimeout: 0) { _ in true }.isEmpty)
        let forgotten = m.tick(now: 45 * second, drainTimeout: 0) { _ in true }
        #expect(forgotten.forgotten == ["a", "b", "c"])
        #expect(m.departed.isEmpty)
    }

    @Test func adoptHandsMembersAndDepartedEntriesToTheNewSource() {
        var m = Membership(grace: 30 * second)
        let newDNS = BackendSource.dns("app2.internal:8000")
        _ = m.answer([backend("a", 1), backend("b", 2), backend("c", 3), backend("d", 4)], maxRemoved: .count(1))
        _ = m.answer([backend("b", 2), backend("c", 3), backend("d", 4)], maxRemoved: .count(1), now: 1)
        _ = m.tick(now: 2, drainTimeout: 60 * second) { _ in true }
        _ = m.add(backend("x", 9), source: .api, reserved: [], now: 2)
        m.adopt(from: dnsApp, to: newDNS)
        #expect(m.members.map(\.source) == [newDNS, newDNS, newDNS, .api])
        #expect(m.departed["a"]?.source == newDNS)
        // The new source's first answer reconciles the adopted members, with max_removed.
        let c = m.answer([backend("a", 1), backend("e", 5)], source: newDNS, maxRemoved: .count(1), now: 3)
        #expect(c.rejoined == ["a"])
        #expect(c.joined == ["e"])
        #expect(c.leaving == ["b"])
        #expect(c.heldBack == 2)
        // The old source no longer owns anything.
        #expect(m.answer([], source: dnsApp, now: 4).isEmpty)
    }

    @Test func dropDrainsEverySourceMemberWithoutMaxRemoved() {
        var m = Membership(grace: 30 * second)
        _ = m.answer([backend("a", 1), backend("b", 2), backend("c", 3), backend("d", 4)])
        _ = m.answer([backend("b", 2), backend("c", 3), backend("d", 4)], maxRemoved: .count(1), now: 1)
        _ = m.add(backend("x", 9), source: .api, reserved: [], now: 1)
        let c = m.drop(source: dnsApp, now: 7)
        #expect(c.leaving == ["b", "c", "d"])
        #expect(m.table == ["a leaving", "b leaving", "c leaving", "d leaving", "x serving"])
        #expect(m.member(named: "a")?.state == .leaving(since: 1))
        #expect(m.member(named: "d")?.state == .leaving(since: 7))
    }

    @Test func dropNamedRemovesAtOnceWithoutRememberingTheNames() {
        var m = Membership(grace: 30 * second)
        _ = m.answer([backend("a", 1), backend("b", 2), backend("c", 3)], maxRemoved: .count(1))
        _ = m.answer([backend("b", 2), backend("c", 3)], maxRemoved: .count(1), now: 1)
        _ = m.tick(now: 2, drainTimeout: 60 * second) { _ in true }
        #expect(Set(m.departed.keys) == ["a"])
        let c = m.dropNamed(["c", "a", "zzz"])
        #expect(c.removed == ["c"])
        #expect(c.forgotten == ["c", "a"])
        #expect(m.table == ["b serving"])
        #expect(m.departed.isEmpty)
        // Back from the source later: a fresh join, no rejoin.
        #expect(m.answer([backend("b", 2), backend("c", 3)], now: 3).joined == ["c"])
    }
}

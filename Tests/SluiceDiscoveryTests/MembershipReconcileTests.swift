import SluiceConfig
import SluiceSystem
import Testing

@testable import SluiceDiscovery

/// A backend `name` at 10.0.0.`host`:8000.
func backend(_ name: String, _ host: Int, weight: Int = 1, tier: BackendTier = .primary) -> DiscoveredBackend {
    DiscoveredBackend(name: name, address: SocketAddress.numeric("10.0.0.\(host):8000")!, weight: weight, tier: tier)
}

let second: UInt64 = 1_000_000_000
let dnsApp = BackendSource.dns("app.internal:8000")
let fileApp = BackendSource.file("/etc/sluice/app.yaml")

extension Membership {
    /// Names and states, in member order.
    var table: [String] { members.map { "\($0.backend.name) \($0.isServing ? "serving" : "leaving")" } }

    mutating func answer(
        _ desired: [DiscoveredBackend], source: BackendSource = dnsApp, maxRemoved: MaxRemoved = .share(0.5),
        reserved: Set<String> = [], now: UInt64 = 0
    ) -> MembershipChanges {
        reconcile(source: source, desired: desired, maxRemoved: maxRemoved, reserved: reserved, now: now)
    }
}

@Suite struct MembershipReconcileTests {
    @Test func newNamesJoinInAnswerOrderAndAnUnchangedAnswerChangesNothing() {
        var m = Membership(grace: 30 * second)
        let c = m.answer([backend("a", 1), backend("b", 2)])
        #expect(c.joined == ["a", "b"])
        #expect(c.leaving.isEmpty && c.rejoined.isEmpty && !c.isEmpty)
        #expect(m.table == ["a serving", "b serving"])
        #expect(m.member(named: "b")?.source == dnsApp)
        let again = m.answer([backend("b", 2), backend("a", 1)])
        #expect(again.isEmpty)
        #expect(again == MembershipChanges())
        #expect(m.table == ["a serving", "b serving"])
    }

    @Test func aWeightOrTierChangeIsAnUpdateAndAnAddressChangeIsAReaddress() {
        var m = Membership(grace: 30 * second)
        _ = m.answer([backend("a", 1), backend("b", 2), backend("c", 3)])
        let c = m.answer([backend("a", 1, weight: 5), backend("b", 2, tier: .standby), backend("c", 9)])
        #expect(c.updated == ["a", "b"])
        #expect(c.readdressed == ["c"])
        #expect(c.joined.isEmpty && c.leaving.isEmpty && c.forgotten.isEmpty)
        #expect(m.member(named: "a")?.backend.weight == 5)
        #expect(m.member(named: "b")?.backend.tier == .standby)
        #expect(m.member(named: "c")?.backend.address.description == "10.0.0.9:8000")
        #expect(m.table == ["a serving", "b serving", "c serving"])
    }

    @Test func aLeavingMemberDesiredAgainRejoinsAndAnotherAddressReplacesIt() {
        var m = Membership(grace: 30 * second)
        _ = m.answer([backend("a", 1), backend("b", 2), backend("c", 3)], maxRemoved: .count(10))
        let out = m.answer([], maxRemoved: .count(10), now: 5)
        #expect(out.leaving == ["a", "b", "c"])
        #expect(m.members.map(\.state) == [.leaving(since: 5), .leaving(since: 5), .leaving(since: 5)])
        let back = m.answer([backend("a", 1), backend("b", 2, weight: 3), backend("c", 4)], maxRemoved: .count(10), now: 6)
        #expect(back.rejoined == ["a", "b"])
        #expect(back.updated == ["b"])
        #expect(back.readdressed == ["c"])
        #expect(m.table == ["a serving", "b serving", "c serving"])
    }

    @Test func stillLeavingMembersAreNotCountedAgain() {
        var m = Membership(grace: 30 * second)
        _ = m.answer([backend("a", 1), backend("b", 2)])
        #expect(m.answer([backend("a", 1)], now: 1).leaving == ["b"])
        let again = m.answer([backend("a", 1)], now: 2)
        #expect(again.isEmpty && again.heldBack == 0)
        #expect(m.member(named: "b")?.state == .leaving(since: 1))
    }

    @Test(arguments: [
        // (max_removed, leaving in the first refresh, held back, leaving in the second, held back)
        (MaxRemoved.share(0.5), ["a", "b"], 1, ["c"], 0),
        (MaxRemoved.share(0.1), ["a"], 2, ["b"], 1),
        (MaxRemoved.count(1), ["a"], 2, ["b"], 1),
        (MaxRemoved.count(3), ["a", "b", "c"], 0, [], 0),
        (MaxRemoved.share(1.0), ["a", "b", "c"], 0, [], 0),
    ])
    func maxRemovedLimitsEachRefreshToItsShareOfTheServingMembers(
        limit: MaxRemoved, first: [String], held: Int, next: [String], heldNext: Int
    ) {
        var m = Membership(grace: 30 * second)
        _ = m.answer([backend("a", 1), backend("b", 2), backend("c", 3), backend("d", 4)], maxRemoved: limit)
        let one = m.answer([backend("d", 4)], maxRemoved: limit, now: 1)
        #expect(one.leaving == first)
        #expect(one.heldBack == held)
        let two = m.answer([backend("d", 4)], maxRemoved: limit, now: 2)
        #expect(two.leaving == next)
        #expect(two.heldBack == heldNext)
        #expect(m.member(named: "d")?.isServing == true)
    }

    @Test func heldBackAloneIsNotAChangeAndAdditionsAreNeverLimited() {
        var m = Membership(grace: 30 * second)
        _ = m.answer([backend("a", 1), backend("b", 2)])
        _ = m.answer([], maxRemoved: .count(1), now: 1)  // a leaves, b is held
        let held = m.answer([], maxRemoved: .count(0), now: 2)
        #expect(held.isEmpty && held.heldBack == 1)
        let grown = m.answer((10..<20).map { backend("n\($0)", $0) }, maxRemoved: .count(0), now: 3)
        #expect(grown.joined.count == 10)
        #expect(grown.heldBack == 1)
    }

    @Test func sourcesOnlyReconcileTheirOwnMembers() {
        var m = Membership(grace: 30 * second)
        _ = m.answer([backend("a", 1), backend("b", 2)], source: dnsApp)
        _ = m.answer([backend("f", 6)], source: fileApp)
        #expect(m.add(backend("api1", 7), source: .api, reserved: [], now: 0) == joinedChanges("api1"))
        // The file source drops to nothing: only its own member leaves, the DNS and API ones stay.
        let c = m.answer([], source: fileApp, maxRemoved: .count(5), now: 1)
        #expect(c.leaving == ["f"])
        #expect(m.table == ["a serving", "b serving", "f leaving", "api1 serving"])
        // A name held by another source's member is skipped, not taken over.
        let d = m.answer([backend("a", 1), backend("b", 2), backend("api1", 7), backend("f", 6)], source: dnsApp)
        #expect(d.skipped == ["api1", "f"])
        #expect(d.isEmpty)
        #expect(m.member(named: "api1")?.source == .api)
        #expect(m.member(named: "f")?.source == fileApp)
    }

    @Test func configuredNamesAreSkippedAndTheFirstOfRepeatedNamesWins() {
        var m = Membership(grace: 30 * second)
        let c = m.answer([backend("app1", 1), backend("x", 2), backend("x", 3), backend("app1", 4)], reserved: ["app1"])
        #expect(c.skipped == ["app1"])
        #expect(c.joined == ["x"])
        #expect(m.table == ["x serving"])
        #expect(m.member(named: "x")?.backend.address.description == "10.0.0.2:8000")
    }

    @Test func aNameBackWithinGraceWithTheSameAddressRejoinsAndWithAnotherIsForgotten() {
        var m = Membership(grace: 30 * second)
        _ = m.answer([backend("a", 1), backend("b", 2), backend("c", 3)], maxRemoved: .count(5))
        _ = m.answer([], maxRemoved: .count(5), now: 1 * second)
        let gone = m.tick(now: 2 * second, drainTimeout: 60 * second) { _ in true }
        #expect(gone.removed == ["a", "b", "c"])
        #expect(m.members.isEmpty)
        #expect(m.departed["a"] == Membership.Departed(address: backend("a", 1).address, source: dnsApp, forgetAt: 32 * second))
        let back = m.answer([backend("a", 1), backend("b", 9)], now: 10 * second)
        #expect(back.rejoined == ["a"])
        #expect(back.joined == ["b"])
        #expect(back.forgotten == ["b"])
        #expect(Set(m.departed.keys) == ["c"])
        #expect(m.table == ["a serving", "b serving"])
    }

    @Test func aNameBackAfterGraceJoinsFresh() {
        var m = Membership(grace: 30 * second)
        _ = m.answer([backend("a", 1)])
        _ = m.answer([], now: 1 * second)
        _ = m.tick(now: 2 * second, drainTimeout: 60 * second) { _ in true }
        #expect(m.tick(now: 31 * second, drainTimeout: 60 * second) { _ in true }.isEmpty)
        let late = m.tick(now: 32 * second, drainTimeout: 60 * second) { _ in true }
        #expect(late.forgotten == ["a"])
        #expect(m.departed.isEmpty)
        let back = m.answer([backend("a", 1)], now: 33 * second)
        #expect(back.joined == ["a"])
        #expect(back.rejoined.isEmpty && back.forgotten.isEmpty)
    }
}

func joinedChanges(_ names: String...) -> Result<MembershipChanges, MembershipError> {
    var c = MembershipChanges()
    c.joined = names
    return .success(c)
}

import SluiceConfig
import SluiceSystem

/// What one call on a `Membership` changed, for the proxy to apply (drain, undrain, publish).
public struct MembershipChanges: Sendable, Equatable {
    /// New members: they enter the next snapshot, and the cluster's health rules apply.
    public var joined: [String] = []
    /// Were leaving, or departed within grace with the same address: serve again, old state kept.
    public var rejoined: [String] = []
    /// Same name and address, weight or tier changed (a rejoined member may be listed here too).
    public var updated: [String] = []
    /// Same name, new address: the member is replaced at once (the old address's state goes).
    public var readdressed: [String] = []
    /// Start draining now.
    public var leaving: [String] = []
    /// Leave the snapshot now.
    public var removed: [String] = []
    /// Departed past grace (or replaced): their old state may be dropped.
    public var forgotten: [String] = []
    /// Removals deferred by `max_removed`.
    public var heldBack: Int = 0
    /// Desired names that belong to a configured backend or to a member of another source.
    public var skipped: [String] = []

    public init() {}

    /// No change at all (`heldBack` and `skipped` alone are not changes).
    public var isEmpty: Bool {
        joined.isEmpty && rejoined.isEmpty && updated.isEmpty && readdressed.isEmpty && leaving.isEmpty
            && removed.isEmpty && forgotten.isEmpty
    }
}

/// Why an API `add` or `remove` was refused (the admin API answers it as a 4xx).
public struct MembershipError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The runtime backends of one cluster (discovered and API-added): who serves, who drains,
/// and who left recently enough for a return to keep its state.
///
/// Pure: no I/O, the clock (nanoseconds) is passed in. Owned and called by the control
/// thread. Configured backends are not members; their names come in as `reserved`.
public struct Membership: Sendable {
    public enum State: Sendable, Equatable {
        case serving
        /// Draining since this time: no new requests; removed by `tick` when idle or at the drain timeout.
        case leaving(since: UInt64)
    }

    public struct Member: Sendable, Equatable {
        public var backend: DiscoveredBackend
        public var source: BackendSource
        public var state: State

        public init(backend: DiscoveredBackend, source: BackendSource, state: State = .serving) {
            self.backend = backend
            self.source = source
            self.state = state
        }

        public var isServing: Bool { state == .serving }
    }

    /// A member removed within grace: a return with the same address keeps its old state.
    public struct Departed: Sendable, Equatable {
        public var address: SocketAddress
        public var source: BackendSource
        public var forgetAt: UInt64

        public init(address: SocketAddress, source: BackendSource, forgetAt: UInt64) {
            self.address = address
            self.source = source
            self.forgetAt = forgetAt
        }
    }

    /// How long a removed member is remembered (ns): `max(30s, 3 × refresh)`, set by the caller.
    public var grace: UInt64
    /// In join order; serving and leaving ones (all of them are in the snapshot).
    public private(set) var members: [Member] = []
    /// Removed within grace, by name.
    public private(set) var departed: [String: Departed] = [:]

    public init(grace: UInt64) { self.grace = grace }

    public func member(named name: String) -> Member? { members.first { $0.backend.name == name } }

    /// Puts back a member the previous process had (binary upgrade, docs/high-availability.md):
    /// as it was, without a join. A name already present is left as it is.
    public mutating func restore(_ m: Member) {
        guard index(named: m.backend.name) == nil else { return }
        members.append(m)
    }

    func index(named name: String) -> Int? { members.firstIndex { $0.backend.name == name } }

    /// Makes `source`'s members what its latest good answer says.
    ///
    /// Only members of `source` change. A desired name in `reserved` (a configured backend)
    /// or held by another source's member is skipped; of repeated names the first wins.
    /// Additions are never limited; of the serving members no longer desired at most
    /// `maxRemoved.allowed(of: serving members of source before this call)` start leaving,
    /// in member order, and the rest are counted in `heldBack`.
    public mutating func reconcile(
        source: BackendSource, desired: [DiscoveredBackend], maxRemoved: MaxRemoved, reserved: Set<String>, now: UInt64
    ) -> MembershipChanges {
        var changes = MembershipChanges()
        let servingBefore = members.count(where: { $0.source == source && $0.isServing })
        var wanted = Set<String>()
        var considered = Set<String>()
        for b in desired {
            guard considered.insert(b.name).inserted else { continue }
            if reserved.contains(b.name) {
                changes.skipped.append(b.name)
                continue
            }
            if let i = index(named: b.name) {
                guard members[i].source == source else {
                    changes.skipped.append(b.name)
                    continue
                }
                wanted.insert(b.name)
                refresh(at: i, with: b, &changes)
            } else {
                wanted.insert(b.name)
                join(b, source: source, &changes)
            }
        }
        let allowed = maxRemoved.allowed(of: servingBefore)
        for i in members.indices where members[i].source == source && members[i].isServing {
            let name = members[i].backend.name
            guard !wanted.contains(name) else { continue }
            if changes.leaving.count < allowed {
                members[i].state = .leaving(since: now)
                changes.leaving.append(name)
            } else {
                changes.heldBack += 1
            }
        }
        return changes
    }

    /// A name that is not a member: joins, or rejoins when it departed within grace with the same address.
    mutating func join(_ b: DiscoveredBackend, source: BackendSource, _ changes: inout MembershipChanges) {
        if let gone = departed.removeValue(forKey: b.name) {
            if gone.address == b.address {
                changes.rejoined.append(b.name)
            } else {
                changes.forgotten.append(b.name)
                changes.joined.append(b.name)
            }
        } else {
            changes.joined.append(b.name)
        }
        members.append(Member(backend: b, source: source))
    }

    /// A member desired again by its own source: readdressed, rejoined and/or updated.
    mutating func refresh(at i: Int, with b: DiscoveredBackend, _ changes: inout MembershipChanges) {
        let old = members[i]
        if old.backend.address != b.address {
            members[i] = Member(backend: b, source: old.source)
            changes.readdressed.append(b.name)
            return
        }
        if !old.isServing {
            members[i].state = .serving
            changes.rejoined.append(b.name)
        }
        if old.backend.weight != b.weight || old.backend.tier != b.tier {
            members[i].backend = b
            changes.updated.append(b.name)
        }
    }
}

// MARK: - The runtime API, the tick, and reloads

/// The runtime API's commands, the once-a-second tick, and what a reload does to members.
extension Membership {
    /// `POST /clusters/C/backends`: adds `b` with the joining rules of a discovered backend.
    ///
    /// Refused when the name is a configured backend, or a member with another address or of
    /// another source. A leaving member with the same address rejoins; an identical serving
    /// member is a no-op; a serving one with another weight or tier is updated.
    public mutating func add(
        _ b: DiscoveredBackend, source: BackendSource, reserved: Set<String>, now: UInt64
    ) -> Result<MembershipChanges, MembershipError> {
        if reserved.contains(b.name) {
            return .failure(MembershipError("backend \"\(b.name)\" is configured in the file; it cannot be added at run time"))
        }
        var changes = MembershipChanges()
        guard let i = index(named: b.name) else {
            join(b, source: source, &changes)
            return .success(changes)
        }
        let m = members[i]
        if m.backend.address != b.address {
            return .failure(MembershipError("backend \"\(b.name)\" already exists with address \(m.backend.address)"))
        }
        if m.source != source {
            return .failure(MembershipError("backend \"\(b.name)\" already exists, from \(m.source)"))
        }
        refresh(at: i, with: b, &changes)
        return .success(changes)
    }

    /// `DELETE /clusters/C/backends/B` of a member: it starts leaving (already leaving: no change).
    ///
    /// A discovered member desired again by its source rejoins at that source's next answer.
    public mutating func remove(named name: String, now: UInt64) -> Result<MembershipChanges, MembershipError> {
        guard let i = index(named: name) else {
            return .failure(MembershipError("no discovered or runtime-added backend \"\(name)\""))
        }
        var changes = MembershipChanges()
        if members[i].isServing {
            members[i].state = .leaving(since: now)
            changes.leaving.append(name)
        }
        return .success(changes)
    }

    /// Once a second: leaving members that are idle (`isIdle(name)`: no request in flight on
    /// any worker) or past `drainTimeout` are removed and remembered for `grace`; departed
    /// entries past their grace are forgotten (in name order).
    public mutating func tick(now: UInt64, drainTimeout: UInt64, isIdle: (String) -> Bool) -> MembershipChanges {
        var changes = MembershipChanges()
        var kept: [Member] = []
        kept.reserveCapacity(members.count)
        for m in members {
            guard case .leaving(let since) = m.state else {
                kept.append(m)
                continue
            }
            let (deadline, overflow) = since.addingReportingOverflow(drainTimeout)
            if isIdle(m.backend.name) || (!overflow && deadline <= now) {
                changes.removed.append(m.backend.name)
                let (forgetAt, late) = now.addingReportingOverflow(grace)
                departed[m.backend.name] = Departed(address: m.backend.address, source: m.source, forgetAt: late ? .max : forgetAt)
            } else {
                kept.append(m)
            }
        }
        members = kept
        let expired = departed.filter { $0.value.forgetAt <= now }.keys.sorted()
        for name in expired { departed[name] = nil }
        changes.forgotten = expired
        return changes
    }

    /// A reload changed the discovery block: `from`'s members and departed entries now belong
    /// to `to`, whose first answer reconciles them (with `max_removed`).
    /// `PUT /clusters/C/backends/B/weight` on a member: its weight until its source says
    /// otherwise. False when there is no such member.
    public mutating func setWeight(_ weight: Int, named name: String) -> Bool {
        guard let i = members.firstIndex(where: { $0.backend.name == name }) else { return false }
        members[i].backend.weight = weight
        return true
    }

    public mutating func adopt(from: BackendSource, to: BackendSource) {
        for i in members.indices where members[i].source == from { members[i].source = to }
        for (name, d) in departed where d.source == from { departed[name]?.source = to }
    }

    /// A reload removed the discovery block: every serving member of `source` starts leaving
    /// (no `max_removed`: the operator asked for it).
    public mutating func drop(source: BackendSource, now: UInt64) -> MembershipChanges {
        var changes = MembershipChanges()
        for i in members.indices where members[i].source == source && members[i].isServing {
            members[i].state = .leaving(since: now)
            changes.leaving.append(members[i].backend.name)
        }
        return changes
    }

    /// A reload's file now configures these names: their members go at once, not remembered
    /// (listed in `removed` and `forgotten`); departed entries of these names are forgotten too.
    public mutating func dropNamed(_ names: Set<String>) -> MembershipChanges {
        var changes = MembershipChanges()
        members.removeAll { m in
            guard names.contains(m.backend.name) else { return false }
            changes.removed.append(m.backend.name)
            changes.forgotten.append(m.backend.name)
            return true
        }
        for name in departed.keys.filter(names.contains).sorted() {
            departed[name] = nil
            changes.forgotten.append(name)
        }
        return changes
    }
}

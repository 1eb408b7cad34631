import Testing

@testable import SluiceBalancing

/// The process-wide waiting room's rules (DESIGN §3 "Priorities under overload") with a
/// clock that is a number: lanes by priority, FIFO until the queue stands for 100 ms, then
/// newest first and waiters past `queue_target` shed (least important first, never critical),
/// displacement when full, a lost slot's waiter back at its place.
@Suite struct WaitQueueTests {
    let ms: UInt64 = 1_000_000
    let critical = 0
    let normal = 1
    let sheddable = 2

    func w(_ t: UInt64, _ lane: Int, _ since: UInt64) -> Waiter { Waiter(ticket: t, lane: lane, since: since) }

    @Test func moreImportantLanesAreServedFirstAndOldestFirstWithinALane() {
        var q = WaitQueue(capacity: 10, target: 50 * ms, now: 0)
        let now: UInt64 = 1_000 * ms
        do {
            let r = q.enqueue(w(1, sheddable, now), now: now)
            #expect(r == .queued)
        }
        do {
            let r = q.enqueue(w(2, normal, now), now: now)
            #expect(r == .queued)
        }
        do {
            let r = q.enqueue(w(3, normal, now + 1), now: now + 1)
            #expect(r == .queued)
        }
        do {
            let r = q.enqueue(w(4, critical, now + 2), now: now + 2)
            #expect(r == .queued)
        }
        let order = (0..<4).compactMap { _ in q.popNext(now: now + 10 * ms)?.ticket }
        #expect(order == [4, 2, 3, 1])
        #expect(q.count == 0)
        do {
            let r = q.popNext(now: now + 10 * ms)
            #expect(r == nil)
        }
    }

    @Test func aSlotInTheReserveGoesToACriticalWaiterOnly() {
        var q = WaitQueue(capacity: 10, target: 50 * ms, now: 0)
        _ = q.enqueue(w(1, normal, 0), now: 0)
        do {
            let r = q.popNext(now: 1, lastLane: 0)
            #expect(r == nil)
        }
        _ = q.enqueue(w(2, critical, 2), now: 2)
        do {
            let r = q.popNext(now: 3, lastLane: 0)
            #expect(r?.ticket == 2)
        }
        do {
            let r = q.popNext(now: 4)
            #expect(r?.ticket == 1)
        }
    }

    @Test func standingMeansNotEmptyAtAnyMomentOfTheLast100ms() {
        var q = WaitQueue(capacity: 10, target: 50 * ms, now: 0)
        // Empty for a long time, then a waiter: not standing yet (it was empty a moment ago).
        let t0: UInt64 = 10_000 * ms
        _ = q.enqueue(w(1, normal, t0), now: t0)
        #expect(!q.standing(now: t0 + 99 * ms))
        #expect(q.standing(now: t0 + 100 * ms))
        // It empties for a moment: the 100 ms start again from there.
        _ = q.popNext(now: t0 + 120 * ms)
        _ = q.enqueue(w(2, normal, t0 + 121 * ms), now: t0 + 121 * ms)
        #expect(!q.standing(now: t0 + 200 * ms))
        #expect(q.standing(now: t0 + 221 * ms))
        // Plain FIFO never stands.
        var fifo = WaitQueue(capacity: 10, target: 0, now: 0)
        _ = fifo.enqueue(w(1, normal, 0), now: 0)
        #expect(!fifo.standing(now: 10_000 * ms))
        do {
            let r = fifo.popExpired(now: 10_000 * ms)
            #expect(r == nil)
        }
    }

    @Test func whileStandingTheNewestIsServedFirstAndOnceEmptyOldestFirstAgain() {
        var q = WaitQueue(capacity: 100, target: 50 * ms, now: 0)
        for k in 0..<5 { _ = q.enqueue(w(UInt64(k + 1), normal, UInt64(k) * ms), now: UInt64(k) * ms) }
        do {
            let r = q.popNext(now: 10 * ms)
            #expect(r?.ticket == 1)  // not standing: FIFO
        }
        do {
            let r = q.popNext(now: 120 * ms)
            #expect(r?.ticket == 5)  // standing since 0: LIFO
        }
        do {
            let r = q.popNext(now: 121 * ms)
            #expect(r?.ticket == 4)
        }
        _ = q.popNext(now: 122 * ms)
        _ = q.popNext(now: 123 * ms)
        #expect(q.count == 0)
        for k in 0..<3 { _ = q.enqueue(w(UInt64(10 + k), normal, 200 * ms), now: 200 * ms) }
        do {
            let r = q.popNext(now: 201 * ms)
            #expect(r?.ticket == 10)  // it emptied at 123 ms: FIFO again
        }
    }

    @Test func aStandingQueueShedsWaitersPastTargetSheddableFirstAndNeverCritical() {
        var q = WaitQueue(capacity: 100, target: 50 * ms, now: 0)
        _ = q.enqueue(w(1, critical, 0), now: 0)
        _ = q.enqueue(w(2, normal, 0), now: 0)
        _ = q.enqueue(w(3, sheddable, 10 * ms), now: 10 * ms)
        _ = q.enqueue(w(4, sheddable, 90 * ms), now: 90 * ms)
        do {
            let r = q.popExpired(now: 99 * ms)
            #expect(r == nil)  // not standing yet
        }
        let now: UInt64 = 120 * ms
        var shed: [UInt64] = []
        while let x = q.popExpired(now: now) { shed.append(x.ticket) }
        // 3 (sheddable, 110 ms) goes before 2 (normal, 120 ms); 4 is younger than target; 1 is critical.
        #expect(shed == [3, 2])
        #expect(q.count == 2)
        do {
            let r = q.popNext(now: now)
            #expect(r?.ticket == 1)
        }
        do {
            let r = q.popNext(now: now)
            #expect(r?.ticket == 4)
        }
    }

    @Test func aFullQueueTakesAMoreImportantNewcomerInPlaceOfTheOldestLessImportantWaiter() {
        var q = WaitQueue(capacity: 3, target: 50 * ms, now: 0)
        _ = q.enqueue(w(1, sheddable, 0), now: 0)
        _ = q.enqueue(w(2, sheddable, 1), now: 1)
        _ = q.enqueue(w(3, normal, 2), now: 2)
        do {
            let r = q.enqueue(w(4, sheddable, 3), now: 3)
            #expect(r == .full)  // nobody less important than it
        }
        do {
            let r = q.enqueue(w(5, normal, 4), now: 4)
            #expect(r == .queuedDisplacing(w(1, sheddable, 0)))
        }
        do {
            let r = q.enqueue(w(6, critical, 5), now: 5)
            #expect(r == .queuedDisplacing(w(2, sheddable, 1)))
        }
        do {
            let r = q.enqueue(w(7, critical, 6), now: 6)
            #expect(r == .queuedDisplacing(w(3, normal, 2)))
        }
        do {
            let r = q.enqueue(w(8, critical, 7), now: 7)
            #expect(r == .queuedDisplacing(w(5, normal, 4)))
        }
        do {
            let r = q.enqueue(w(9, critical, 8), now: 8)
            #expect(r == .full)
        }
        #expect(q.count == 3)
        #expect(q.count(lane: critical) == 3)
    }

    @Test func aWaiterPutBackKeepsItsPlaceByAgeAndRemovalFindsItsTicket() {
        var q = WaitQueue(capacity: 10, target: 0, now: 0)
        _ = q.enqueue(w(1, normal, 10), now: 10)
        _ = q.enqueue(w(2, normal, 30), now: 30)
        let first = q.popNext(now: 40)!
        _ = q.enqueue(w(3, normal, 50), now: 50)
        q.putBack(first, now: 60)
        do {
            let r = q.popNext(now: 70)
            #expect(r?.ticket == 1)
        }
        do {
            let r = q.remove(ticket: 3, lane: normal, now: 80)
            #expect(r)
        }
        do {
            let r = q.remove(ticket: 3, lane: normal, now: 80)
            #expect(!r)
        }
        do {
            let r = q.remove(ticket: 2, lane: critical, now: 80)
            #expect(!r)
        }
        do {
            let r = q.popNext(now: 90)
            #expect(r?.ticket == 2)
        }
        #expect(q.count == 0)
    }
}

/// `Retry-After` for Sluice's 503s (DESIGN §3): the backlog's drain time at the measured rate,
/// ±20%, 1–60 s, from a clock that is a number and jitter values the test chooses.
@Suite struct RetryAfterTests {
    let ms: UInt64 = 1_000_000

    /// A second of traffic: `served` waiters leave for a backend, `shed` are turned away.
    func second(served: Int, shed: Int, from t: UInt64) -> DrainEstimate {
        var d = DrainEstimate(now: t)
        for k in 0..<served { d.servedOne(now: t + UInt64(k) * (1_000 * ms) / UInt64(max(served, 1))) }
        for k in 0..<shed { d.shedOne(now: t + UInt64(k) * (1_000 * ms) / UInt64(max(shed, 1))) }
        return d
    }

    @Test func theBacklogIsTheQueueAndWhoWasTurnedAwayDrainedAtTheServedRate() {
        // 2,400 served/s, 4,800 shed/s (a 3× spike), 200 waiting: (200 + 4,800) / 2,400 ≈ 2.08 s.
        let d = second(served: 2_400, shed: 4_800, from: 0)
        let now = 1_000 * ms - 1
        let mid = RetryAfter.seconds(queued: 200, d, now: now, u1: 0.5, u2: 0.5)
        #expect(mid == 2)
        // The jitter spans ±20%: 1.67 s .. 2.5 s; rounded up with the probability of the fraction.
        #expect(RetryAfter.seconds(queued: 200, d, now: now, u1: 0.0, u2: 0.99) == 1)
        #expect(RetryAfter.seconds(queued: 200, d, now: now, u1: 0.0, u2: 0.0) == 2)
        #expect(RetryAfter.seconds(queued: 200, d, now: now, u1: 0.999, u2: 0.0) == 3)
        // A 10× spike: 21,600 shed/s → 9 s ± 20%.
        let storm = second(served: 2_400, shed: 21_600, from: 0)
        let values = Set(stride(from: 0.0, to: 1.0, by: 0.05).map { RetryAfter.seconds(queued: 1_000, storm, now: now, u1: $0, u2: 0.5) })
        #expect(values.min()! >= 7 && values.max()! <= 11)
        #expect(values.count >= 3)
    }

    @Test func theAnswerStaysBetweenOneAndSixtySeconds() {
        let calm = second(served: 2_000, shed: 0, from: 0)
        for u in stride(from: 0.0, to: 1.0, by: 0.1) {
            #expect(
                RetryAfter.seconds(queued: 1, calm, now: 999 * ms, u1: u, u2: u) == 1
                    || RetryAfter.seconds(queued: 1, calm, now: 999 * ms, u1: u, u2: u) == 2)
        }
        // Nothing drains (a stuck backend): the maximum.
        let stuck = second(served: 0, shed: 50, from: 0)
        #expect(RetryAfter.seconds(queued: 10, stuck, now: 999 * ms, u1: 0.999, u2: 0.999) == 60)
        #expect(RetryAfter.seconds(queued: 10, stuck, now: 999 * ms, u1: 0, u2: 0) == 48)
        // Nothing measured yet (the first 200 ms of the first window): the minimum, jittered.
        let fresh = DrainEstimate(now: 0)
        #expect([1, 2].contains(RetryAfter.seconds(queued: 500, fresh, now: 100 * ms, u1: 0.9, u2: 0.9)))
    }

    @Test func aStormAfterACalmIsNotMeasuredByTheCalm() {
        // A few waiters served long ago, then nothing for a minute; a storm's first refusal
        // rolls the window: the minute-long window is no measurement (it would say "nothing
        // drains" and send everyone away for 60 s).
        var d = DrainEstimate(now: 0)
        for k in 0..<5 { d.servedOne(now: UInt64(k) * ms) }
        let storm: UInt64 = 60_000 * ms
        d.shedOne(now: storm)
        #expect(d.servedPerSecond(now: storm + 10 * ms) == nil)
        #expect([1, 2].contains(RetryAfter.seconds(queued: 300, d, now: storm + 10 * ms, u1: 0.99, u2: 0.99)))
        // 200 ms into the storm its own window counts.
        for k in 0..<150 { d.servedOne(now: storm + UInt64(k) * ms) }
        for k in 0..<600 { d.shedOne(now: storm + UInt64(k) * ms / 3) }
        let now = storm + 200 * ms
        #expect(abs(d.servedPerSecond(now: now)! - 750) < 1)
        #expect(RetryAfter.seconds(queued: 0, d, now: now, u1: 0.5, u2: 0.5) == 4)  // 3,005 shed/s ÷ 750/s
    }

    @Test func ratesComeFromTheLastWholeWindowUntilTheNewOneHasRunAFifth() {
        var d = second(served: 1_000, shed: 3_000, from: 0)
        d.servedOne(now: 1_000 * ms)  // rolls: the first window is now the last one
        #expect(abs(d.servedPerSecond(now: 1_100 * ms)! - 1_000) < 2)
        #expect(abs(d.shedPerSecond(now: 1_100 * ms) - 3_000) < 5)
        // Past a fifth of the new window, its own rate counts: 1 served in 300 ms.
        #expect(abs(d.servedPerSecond(now: 1_300 * ms)! - 3.33) < 0.1)
        #expect(d.shedPerSecond(now: 1_300 * ms) == 0)
    }
}

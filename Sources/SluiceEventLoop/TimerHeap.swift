/// Where a timer target sits in its loop's timer heap. Owned by the loop: a target declares
/// `var timerSlot = TimerSlot()` and never writes it.
package struct TimerSlot {
    var index = -1
    package init() {}
    /// True while the target has a deadline armed.
    package var isArmed: Bool { index >= 0 }
}

/// A binary min-heap of timer targets ordered by deadline (then by arming order), holding each
/// target at most once. The target stores its own position, so moving or cancelling its
/// deadline is O(log n) and a cancelled target is released at once, not at its deadline.
///
/// Loop thread only.
struct TimerHeap {
    struct Entry {
        var deadline: UInt64
        var seq: UInt64
        let target: TimerTarget
    }

    private(set) var entries: [Entry] = []
    private var seq: UInt64 = 0

    var count: Int { entries.count }
    var first: Entry? { entries.first }

    /// Arms `target` at `deadline`, or moves its armed deadline there.
    mutating func schedule(_ target: TimerTarget, at deadline: UInt64) {
        seq &+= 1
        let i = target.timerSlot.index
        if i >= 0 && i < entries.count && entries[i].target === target {
            let earlier = deadline < entries[i].deadline
            entries[i].deadline = deadline
            entries[i].seq = seq
            if earlier { up(i) } else { down(i) }
            return
        }
        entries.append(Entry(deadline: deadline, seq: seq, target: target))
        target.timerSlot.index = entries.count - 1
        up(entries.count - 1)
    }

    /// Disarms `target` (nothing when it is not armed).
    mutating func cancel(_ target: TimerTarget) {
        let i = target.timerSlot.index
        guard i >= 0 && i < entries.count && entries[i].target === target else { return }
        remove(at: i)
    }

    /// Removes and returns the earliest entry.
    mutating func popFirst() -> Entry? {
        guard !entries.isEmpty else { return nil }
        let e = entries[0]
        remove(at: 0)
        return e
    }

    private mutating func remove(at i: Int) {
        let removed = entries[i].target
        let last = entries.count - 1
        if i != last {
            entries.swapAt(i, last)
            entries[i].target.timerSlot.index = i
        }
        entries.removeLast()
        removed.timerSlot.index = -1
        if i < entries.count {
            up(i)
            down(i)
        }
    }

    @inline(__always)
    private func less(_ a: Int, _ b: Int) -> Bool {
        let x = entries[a]
        let y = entries[b]
        return x.deadline != y.deadline ? x.deadline < y.deadline : x.seq < y.seq
    }

    private mutating func swap(_ a: Int, _ b: Int) {
        entries.swapAt(a, b)
        entries[a].target.timerSlot.index = a
        entries[b].target.timerSlot.index = b
    }

    private mutating func up(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(i, parent) else { return }
            swap(i, parent)
            i = parent
        }
    }

    private mutating func down(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1
            guard l < entries.count else { return }
            var m = l
            if l + 1 < entries.count && less(l + 1, l) { m = l + 1 }
            guard less(m, i) else { return }
            swap(i, m)
            i = m
        }
    }
}

/// The last `capacity` values appended, oldest first: a fixed array written in a circle.
///
/// A plain value; the history's storage. Appending never allocates once the ring is full.
struct Ring<Element> {
    let capacity: Int
    private var items: [Element] = []
    /// Where the oldest value is, once the ring is full.
    private var start = 0

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        items.reserveCapacity(capacity)
    }

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }

    mutating func append(_ e: Element) {
        if items.count < capacity {
            items.append(e)
        } else {
            items[start] = e
            start = (start + 1) % capacity
        }
    }

    /// The `i`-th value, 0 the oldest.
    subscript(i: Int) -> Element {
        precondition(i >= 0 && i < items.count)
        return items[(start + i) % items.count]
    }

    var last: Element? { items.isEmpty ? nil : self[items.count - 1] }

    /// The indices from the first value `include` accepts to the newest, when values are in
    /// ascending order of what `include` tests (a binary search).
    func suffixStart(where include: (Element) -> Bool) -> Int {
        var lo = 0
        var hi = items.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if include(self[mid]) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}

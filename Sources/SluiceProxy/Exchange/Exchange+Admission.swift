/// The exchange's admission events: no free slot (wait or refuse), a slot granted to a
/// waiter, a shed, a rate limit. Pure, like the rest of `Exchange`.
extension Exchange {
    /// No backend was picked. `canWait`: one would be, but every one is at
    /// `max_requests_per_backend`; `admitted`: the queue took the request.
    mutating func noBackend(canWait: Bool, admitted: Bool, now: UInt64) -> ExchangeAction {
        if canWait && admitted {
            enter(.queued, now &+ policy.queue)
            return .wait
        }
        return shed(canWait ? .queueFull : .noBackend)
    }

    /// A backend slot freed up for this queued request.
    mutating func slotGranted() -> ExchangeAction {
        guard state == .queued else { return .wait }
        enter(.routing, .max)
        return .pick(failover: false)
    }

    /// The admission queue sheds this waiter (the standing-queue rule, a full queue, its
    /// timeout). A refusal for lack of capacity keeps the connection when the request was read
    /// whole and the client wants it kept: a storm of refusals must not become a storm of
    /// reconnections.
    mutating func shed(_ reason: ShedReason) -> ExchangeAction {
        refuse(.shed(reason), status: 503)
    }

    /// A rate limit refuses the request (429 with `answer.retryAfter`); like a shed, the
    /// connection goes on when the request was read whole.
    mutating func rateLimited(_ answer: ErrorAnswer) -> ExchangeAction {
        refuse(.answer(answer), status: answer.status)
    }
}

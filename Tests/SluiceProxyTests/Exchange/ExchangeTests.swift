import SluiceHTTP
import Testing

@testable import SluiceConfig
@testable import SluiceProxy

/// The exchange state machine without sockets: a plain number is the clock (nanoseconds).
@Suite struct ExchangeTests {
    static let ms: UInt64 = 1_000_000
    static let s: UInt64 = 1_000_000_000
    /// Timeouts that differ from each other, so a phase that used another's timeout shows.
    static let policy = Exchange.Policy(connect: 500 * ms, response: 3 * s, queue: 2 * s, tunnelIdle: 7 * s, retries: nil)

    static func retries(_ on: Set<RetryCondition> = [.connectFailure, .resetBeforeResponse, .status(503), .status(504)], attempts: Int = 2)
        -> Exchange.Policy
    {
        var p = policy
        var r = RetryConfig()
        r.on = on
        r.attempts = attempts
        p.retries = r
        return p
    }

    static let room = RetryCapacity(anotherBackend: true, withinBudget: true, leavesTier: false)
    static let noRoom = RetryCapacity(anotherBackend: true, withinBudget: false, leavesTier: false)

    /// A GET (or `method` with `body`) routed with `policy`, its first backend connecting at t=0.
    static func started(
        _ method: Method = .get, body: BodyFraming = .none, http11: Bool = true, policy: Exchange.Policy = policy,
        pooled: Bool = false
    ) -> Exchange {
        var e = Exchange()
        e.begin(now: 0, method: method, body: body, http11: http11, keepAlive: true, upgrade: false)
        #expect(e.state == .routing)
        #expect(e.routed(policy) == .pick(failover: false))
        e.backendChosen(0, connected: pooled, now: 0)
        return e
    }

    /// Connected at `at`, request sent at once, waiting for the head.
    static func awaiting(_ method: Method = .get, policy: Exchange.Policy = policy, at: UInt64 = 0) -> Exchange {
        var e = started(method, policy: policy)
        e.connected(now: at)
        e.requestSent(now: at)
        #expect(e.state == .awaitingHead)
        return e
    }

    static func head(_ e: inout Exchange, _ status: Int, _ framing: BodyFraming = .contentLength(5), closes: Bool = false, now: UInt64 = 0)
        -> ExchangeAction
    {
        e.responseHead(status: status, framing: framing, backendCloses: closes, draining: false, now: now) { room }
    }

    // MARK: transitions

    @Test func aRequestGoesThroughEveryPhaseAndTheConnectionStaysOpen() {
        var e = Self.started()
        #expect(e.state == .connecting)
        #expect(e.deadline == 500 * Self.ms)
        e.connected(now: 100 * Self.ms)
        #expect(e.state == .sending)
        #expect(e.deadline == 100 * Self.ms + 3 * Self.s)
        e.requestSent(now: 200 * Self.ms)
        #expect(e.state == .awaitingHead)
        #expect(e.deadline == 200 * Self.ms + 3 * Self.s)
        #expect(Self.head(&e, 200, now: 300 * Self.ms) == .forward(.raw))
        #expect(e.state == .streaming && e.status == 200 && e.responseStarted)
        #expect(e.responseEnded() == .finish(reuse: true))
        #expect(e.state == .done)
        #expect(e.connectionContinues)
        #expect(e.end() == false)
        #expect(e.state == .idle)
    }

    @Test func aPooledConnectionSkipsTheConnectPhase() {
        let e = Self.started(pooled: true)
        #expect(e.state == .sending)
        #expect(e.deadline == 3 * Self.s)
    }

    @Test func theResponseIsNotDueBeforeTheBodyIsSent() {
        var e = Self.started(.post, body: .contentLength(10))
        e.connected(now: 0)
        e.requestSent(now: 10 * Self.ms)  // head written, body still to come
        #expect(e.state == .sending)
        e.requestBodyEnded()
        e.requestSent(now: 20 * Self.ms)
        #expect(e.state == .awaitingHead)
    }

    @Test func aFullClusterQueuesThenPicksWhenASlotFrees() {
        var e = Self.started()
        var q = Exchange()
        q.begin(now: 0, method: .get, body: .none, http11: true, keepAlive: true, upgrade: false)
        _ = q.routed(Self.policy)
        #expect(q.noBackend(canWait: true, admitted: true, now: 0) == .wait)
        #expect(q.state == .queued)
        #expect(q.deadline == 2 * Self.s)
        #expect(q.slotGranted() == .pick(failover: false))
        #expect(q.state == .routing)
        // Not admitted (queue full) and nothing to wait for: both 503, for different reasons.
        var full = Exchange()
        full.begin(now: 0, method: .get, body: .none, http11: true, keepAlive: true, upgrade: false)
        #expect(full.noBackend(canWait: true, admitted: false, now: 0) == .shed(.queueFull))
        // A refusal of a request read whole keeps the connection (no reconnection storm).
        #expect(full.status == 503 && full.connectionContinues)
        #expect(e.noBackend(canWait: false, admitted: false, now: 0) == .shed(.noBackend))
    }

    @Test func aRefusalKeepsTheConnectionOnlyForARequestReadWholeOnAKeptAliveConnection() {
        var unreadBody = Exchange()
        unreadBody.begin(now: 0, method: .post, body: .contentLength(100), http11: true, keepAlive: true, upgrade: false)
        #expect(unreadBody.shed(.queueFull) == .shed(.queueFull))
        #expect(!unreadBody.connectionContinues, "the body's bytes would be read as the next request")
        var closing = Exchange()
        closing.begin(now: 0, method: .get, body: .none, http11: true, keepAlive: false, upgrade: false)
        #expect(
            closing.rateLimited(ErrorAnswer(429, "rate limit exceeded", retryAfter: 2))
                == .answer(ErrorAnswer(429, "rate limit exceeded", retryAfter: 2)))
        #expect(!closing.connectionContinues)
        var kept = Exchange()
        kept.begin(now: 0, method: .get, body: .none, http11: true, keepAlive: true, upgrade: false)
        #expect(
            kept.rateLimited(ErrorAnswer(429, "rate limit exceeded", retryAfter: 2))
                == .answer(ErrorAnswer(429, "rate limit exceeded", retryAfter: 2)))
        #expect(kept.connectionContinues && kept.status == 429)
        // Any other error answer still closes.
        var failed = Exchange()
        failed.begin(now: 0, method: .get, body: .none, http11: true, keepAlive: true, upgrade: false)
        _ = failed.fail(ErrorAnswer(502, "bad gateway"))
        #expect(!failed.connectionContinues)
    }

    @Test func interimHeadsAreForwardedToHTTP11ClientsOnlyAndRestartTheResponseTimeout() {
        var e = Self.awaiting()
        #expect(Self.head(&e, 103, .none, now: 2 * Self.s) == .interim(forward: true))
        #expect(e.state == .awaitingHead && e.deadline == 5 * Self.s && !e.responseStarted)
        var old = Self.started(http11: false)
        old.connected(now: 0)
        old.requestSent(now: 0)
        #expect(Self.head(&old, 100, .none) == .interim(forward: false))
    }

    @Test func switchingProtocolsBecomesATunnelOnlyWhenAsked() {
        var asked = Exchange()
        asked.begin(now: 0, method: .get, body: .none, http11: true, keepAlive: true, upgrade: true)
        _ = asked.routed(Self.policy)
        asked.backendChosen(0, connected: true, now: 0)
        asked.requestSent(now: 0)
        #expect(Self.head(&asked, 101, .none, now: Self.s) == .tunnel)
        #expect(asked.state == .tunnel && asked.status == 101 && asked.deadline == 8 * Self.s)
        asked.progress(now: 2 * Self.s)
        #expect(asked.deadline == 9 * Self.s)
        var unasked = Self.awaiting()
        #expect(Self.head(&unasked, 101, .none) == .answer(ErrorAnswer(502, "backend switched protocols unasked")))
    }

    // MARK: timeouts, one per phase

    @Test func nothingTimesOutBeforeItsDeadline() {
        var e = Self.started()
        #expect(e.timerFired(now: 499 * Self.ms, backendStoppedReading: false) == .wait)
        #expect(e.state == .connecting)
    }

    @Test func theConnectTimeoutEndsAtConnectAndDoesNotBoundTheResponse() {
        // A backend slower than `connect` (500 ms) to answer but faster than `response` (3 s).
        var e = Self.awaiting(at: 400 * Self.ms)
        #expect(e.timerFired(now: 1_500 * Self.ms, backendStoppedReading: false) == .wait)
        #expect(Self.head(&e, 200, now: 1_500 * Self.ms) == .forward(.raw))
    }

    @Test func eachPhaseTimesOutWithItsOwnAnswer() {
        var connecting = Self.started()
        #expect(connecting.timerFired(now: 500 * Self.ms, backendStoppedReading: false) == .blame(.connect(timedOut: true)))
        #expect(
            connecting.retryOrAnswer(after: .connect(timedOut: true)) { Self.room } == .answer(ErrorAnswer(502, "backend connect timeout")))

        var queued = Exchange()
        queued.begin(now: 0, method: .get, body: .none, http11: true, keepAlive: true, upgrade: false)
        _ = queued.routed(Self.policy)
        _ = queued.noBackend(canWait: true, admitted: true, now: 0)
        #expect(queued.timerFired(now: 2 * Self.s, backendStoppedReading: false) == .shed(.queueTimeout))

        var slowClient = Self.started(.post, body: .contentLength(100), pooled: true)
        #expect(
            slowClient.timerFired(now: 3 * Self.s, backendStoppedReading: false)
                == .answer(ErrorAnswer(408, "request body not received in time")))
        var deafBackend = Self.started(.post, body: .contentLength(100), pooled: true)
        #expect(
            deafBackend.timerFired(now: 3 * Self.s, backendStoppedReading: true)
                == .answer(ErrorAnswer(504, "backend stopped reading the request body")))

        var silent = Self.awaiting()
        #expect(silent.timerFired(now: 3 * Self.s, backendStoppedReading: false) == .blame(.responseTimeout))
        #expect(silent.retryOrAnswer(after: .responseTimeout) { Self.room } == .answer(ErrorAnswer(504, "backend did not answer in time")))

        var stalled = Self.awaiting()
        _ = Self.head(&stalled, 200)
        #expect(stalled.timerFired(now: 3 * Self.s, backendStoppedReading: false) == .cut)
        #expect(!stalled.keepAlive)

        var tunnel = Exchange()
        tunnel.begin(now: 0, method: .get, body: .none, http11: true, keepAlive: true, upgrade: true)
        _ = tunnel.routed(Self.policy)
        tunnel.backendChosen(0, connected: true, now: 0)
        tunnel.requestSent(now: 0)
        _ = Self.head(&tunnel, 101, .none)
        #expect(tunnel.timerFired(now: 7 * Self.s - 1, backendStoppedReading: false) == .wait)
        #expect(tunnel.timerFired(now: 7 * Self.s, backendStoppedReading: false) == .close)
    }

    @Test func progressRestartsTheSilenceLimitOfStreamingPhasesOnly() {
        var upload = Self.started(.post, body: .chunked, pooled: true)
        upload.progress(now: 2 * Self.s)
        #expect(upload.timerFired(now: 4 * Self.s, backendStoppedReading: false) == .wait)
        var waiting = Self.awaiting()
        waiting.progress(now: 2 * Self.s)  // no byte of the response yet: `response` runs from the request sent
        #expect(waiting.timerFired(now: 3 * Self.s, backendStoppedReading: false) == .blame(.responseTimeout))
        var body = Self.awaiting()
        _ = Self.head(&body, 200)
        body.progress(now: 2_500 * Self.ms)
        #expect(body.timerFired(now: 5 * Self.s, backendStoppedReading: false) == .wait)
        #expect(body.timerFired(now: 5_500 * Self.ms, backendStoppedReading: false) == .cut)
    }

    // MARK: retries and replays

    @Test func aStalePooledConnectionIsReplayedOnceUnblamed() {
        var e = Self.started(pooled: true)
        e.requestSent(now: 0)
        let stale = UpstreamFailure.closedBeforeHead(reused: true, received: false)
        #expect(e.upstreamFailed(stale) == .replay)
        #expect(e.tried.isEmpty && e.replays == 1 && e.retriesUsed == 0)
        e.backendChosen(0, connected: false, now: 0)
        #expect(e.upstreamFailed(stale) == .blame(stale))
        #expect(e.retryOrAnswer(after: stale) { Self.room } == .answer(ErrorAnswer(502, "backend closed the connection before answering")))
    }

    @Test func noReplayWithABodyOrAfterPartOfAHead() {
        var post = Self.started(.post, body: .contentLength(3), pooled: true)
        #expect(
            post.upstreamFailed(.closedBeforeHead(reused: true, received: false))
                == .blame(.closedBeforeHead(reused: true, received: false)))
        var partial = Self.started(pooled: true)
        let f = UpstreamFailure.closedBeforeHead(reused: true, received: true)
        #expect(partial.upstreamFailed(f) == .blame(f))
        #expect(partial.retryOrAnswer(after: f) { Self.room } == .answer(ErrorAnswer(502, "incomplete response head")))
    }

    @Test func aRefusedConnectionIsRetriedEvenForPostCarryingItsBytes() {
        var e = Self.started(.post, body: .contentLength(3), policy: Self.retries())
        let f = UpstreamFailure.connect(timedOut: false)
        #expect(e.upstreamFailed(f) == .blame(f))
        #expect(e.retryOrAnswer(after: f) { Self.room } == .retry(.connectFailure, carry: true))
        #expect(e.retriesUsed == 1 && e.countedInBudget && e.state == .routing)
        e.backendChosen(1, connected: false, now: 0)
        #expect(e.tried == [0, 1])
        #expect(e.retryOrAnswer(after: f) { Self.room } == .retry(.connectFailure, carry: true))
        e.backendChosen(2, connected: false, now: 0)
        // Two attempts used: the third failure is answered.
        #expect(e.retryOrAnswer(after: f) { Self.room } == .answer(ErrorAnswer(502, "backend refused the connection")))
        #expect(e.end() == true)  // it held a budget slot
    }

    @Test func aResetIsRetriedForIdempotentRequestsWithoutABodyOnly() {
        let f = UpstreamFailure.closedBeforeHead(reused: false, received: false)
        var get = Self.awaiting(policy: Self.retries())
        #expect(get.retryOrAnswer(after: f) { Self.room } == .retry(.resetBeforeResponse, carry: false))
        var post = Self.started(.post, body: .contentLength(2), policy: Self.retries())
        post.requestBodyEnded()
        #expect(post.retryOrAnswer(after: f) { Self.room } == .answer(ErrorAnswer(502, "backend closed the connection before answering")))
        var delete = Self.awaiting(.delete, policy: Self.retries())
        #expect(delete.retryOrAnswer(after: f) { Self.room } == .retry(.resetBeforeResponse, carry: false))
    }

    @Test func a5xxIsRetriedOnlyWhenListedAndNeverForwarded() {
        var listed = Self.awaiting(policy: Self.retries())
        #expect(Self.head(&listed, 503) == .retry(.status, carry: false))
        #expect(listed.status == 0 && !listed.responseStarted)
        var unlisted = Self.awaiting(policy: Self.retries())
        #expect(Self.head(&unlisted, 500) == .forward(.raw))
        #expect(unlisted.status == 500)
        var post = Self.awaiting(.post, policy: Self.retries())
        #expect(Self.head(&post, 503) == .forward(.raw))
        var timeout = Self.awaiting(policy: Self.retries())
        #expect(timeout.retryOrAnswer(after: .responseTimeout) { Self.room } == .retry(.status, carry: false))
    }

    @Test func theBudgetBoundsNewRetriesButNotARetryAlreadyCountedOrALeavingTier() {
        let f = UpstreamFailure.connect(timedOut: false)
        var e = Self.started(policy: Self.retries(attempts: 3))
        #expect(e.retryOrAnswer(after: f) { Self.noRoom } == .answer(ErrorAnswer(502, "backend refused the connection")))
        var counted = Self.started(policy: Self.retries(attempts: 3))
        #expect(counted.retryOrAnswer(after: f) { Self.room } == .retry(.connectFailure, carry: true))
        #expect(counted.retryOrAnswer(after: f) { Self.noRoom } == .retry(.connectFailure, carry: true))
        var failover = Self.started(policy: Self.retries())
        let leaving = RetryCapacity(anotherBackend: true, withinBudget: false, leavesTier: true)
        #expect(failover.retryOrAnswer(after: f) { leaving } == .retry(.connectFailure, carry: true))
        var nowhere = Self.started(policy: Self.retries())
        let none = RetryCapacity(anotherBackend: false, withinBudget: true, leavesTier: true)
        #expect(nowhere.retryOrAnswer(after: f) { none } == .answer(ErrorAnswer(502, "backend refused the connection")))
    }

    @Test func capacityIsAskedOnlyWhenThePolicyAllowsARetry() {
        var asked = 0
        var noPolicy = Self.started()
        _ = noPolicy.retryOrAnswer(after: .connect(timedOut: false)) {
            asked += 1
            return Self.room
        }
        var post = Self.awaiting(.post, policy: Self.retries())
        _ = post.retryOrAnswer(after: .closedBeforeHead(reused: false, received: false)) {
            asked += 1
            return Self.room
        }
        #expect(asked == 0)
        var get = Self.awaiting(policy: Self.retries())
        _ = get.retryOrAnswer(after: .closedBeforeHead(reused: false, received: false)) {
            asked += 1
            return Self.room
        }
        #expect(asked == 1)
    }

    // MARK: keep-alive or close

    @Test func keepAliveDecisions() {
        // HTTP/1.0 client, chunked backend body: sent raw, the end is the close.
        var old = Self.started(http11: false, pooled: true)
        old.requestSent(now: 0)
        #expect(Self.head(&old, 200, .chunked) == .forward(.raw))
        #expect(!old.keepAlive)
        // HTTP/1.0 with a length keeps the connection.
        var oldLength = Self.started(http11: false, pooled: true)
        oldLength.requestSent(now: 0)
        #expect(Self.head(&oldLength, 200, .contentLength(3)) == .forward(.raw))
        #expect(oldLength.keepAlive)
        // HTTP/1.1 client, close-delimited backend body: re-chunked, backend not reused.
        var untilClose = Self.awaiting()
        #expect(Self.head(&untilClose, 200, .untilClose) == .forward(.chunked))
        #expect(untilClose.keepAlive)
        #expect(untilClose.upstreamEndedDuringBody(failed: false) == .finish(reuse: false))
        // The backend says close: the client keeps its connection, the backend's is not pooled.
        var closes = Self.awaiting()
        _ = Self.head(&closes, 200, closes: true)
        #expect(closes.responseEnded() == .finish(reuse: false) && closes.connectionContinues)
        // Answered before the request body ended: the connection cannot resync.
        var early = Self.started(.post, body: .contentLength(1_000), pooled: true)
        #expect(Self.head(&early, 413) == .forward(.raw))
        #expect(!early.keepAlive)
        // Draining.
        var draining = Self.awaiting()
        #expect(
            draining.responseHead(status: 200, framing: .none, backendCloses: false, draining: true, now: 0) { Self.room }
                == .forward(.none))
        #expect(!draining.keepAlive)
        // Every error answer closes.
        var refused = Self.started()
        _ = refused.retryOrAnswer(after: .connect(timedOut: false)) { Self.room }
        #expect(!refused.connectionContinues)
    }

    @Test func aHalfCloseAfterTheRequestIsLoggedAbortedButAnswered() {
        var e = Self.awaiting()
        #expect(e.clientClosed() == .wait)
        #expect(e.clientLeft)
        #expect(Self.head(&e, 200) == .forward(.raw))
        var upload = Self.started(.post, body: .contentLength(10), pooled: true)
        #expect(upload.clientClosed() == .abort)
    }

    @Test func theDrainDeadlineAnswers503UntilTheAnswerStarts() {
        var waiting = Self.awaiting()
        #expect(waiting.abandoned() == .answer(ErrorAnswer(503, "shutting down", retryAfter: 1)))
        var streaming = Self.awaiting()
        _ = Self.head(&streaming, 200)
        #expect(streaming.abandoned() == .cut)
    }

    @Test func aBackendDeathMidBodyIsACutAndABadHeadIsA502() {
        var e = Self.awaiting()
        _ = Self.head(&e, 200, .contentLength(100))
        #expect(e.upstreamEndedDuringBody(failed: false) == .cut)
        var bad = Self.awaiting()
        #expect(bad.fail(ErrorAnswer(502, "bad response")) == .answer(ErrorAnswer(502, "bad response")))
        var chunk = Self.awaiting()
        _ = Self.head(&chunk, 200, .chunked)
        #expect(chunk.fail(ErrorAnswer(502, "bad chunk")) == .cut)
    }

    /// The rule: once a head is read, no failure closes the connection without an answer.
    /// Every failure in every phase ends in an answer, a retry/replay/blame (which end in one),
    /// or a visible cut once the answer has started; only the client's own departure aborts.
    @Test func neverCutsAConnectionUnderARequestItHasRead() {
        let failures: [UpstreamFailure] = [
            .connect(timedOut: false), .connect(timedOut: true), .closedBeforeHead(reused: true, received: false),
            .closedBeforeHead(reused: false, received: false), .closedBeforeHead(reused: false, received: true), .responseTimeout,
        ]
        func answered(_ a: ExchangeAction) -> Bool {
            switch a {
            case .answer, .shed, .retry, .replay, .blame, .pick: return true
            default: return false
            }
        }
        for policy in [Self.policy, Self.retries()] {
            for f in failures {
                for capacity in [Self.room, Self.noRoom] {
                    var e = Self.awaiting(policy: policy)
                    var a = e.upstreamFailed(f)
                    if case .blame = a { a = e.retryOrAnswer(after: f) { capacity } }
                    #expect(answered(a), "\(f) with \(capacity) gave \(a)")
                    if case .answer(let ans) = a { #expect(ans.status >= 500 && e.status == ans.status) }
                }
            }
            for phase in 0..<4 {
                var e = Self.started(.post, body: .contentLength(4), policy: policy)
                if phase >= 1 { e.connected(now: 0) }
                if phase >= 2 {
                    e.requestBodyEnded()
                    e.requestSent(now: 0)
                }
                if phase == 3 { _ = Self.head(&e, 200) }
                let timer = e.timerFired(now: 100 * Self.s, backendStoppedReading: false)
                let ok: Bool
                if case .blame(let f) = timer {
                    ok = answered(e.retryOrAnswer(after: f) { Self.room })
                } else {
                    ok = phase == 3 ? timer == .cut : answered(timer)
                }
                #expect(ok, "phase \(phase) timed out as \(timer)")
            }
        }
    }
}

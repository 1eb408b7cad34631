import SluiceConfig
import SluiceHTTP

/// One request and its answer, as a pure state machine: events in, one `ExchangeAction` out.
///
/// Owned by the client connection that runs it, loop thread only. It holds values only (no
/// socket, worker or loop): the request's framing, the cluster's timeouts and retry policy,
/// the backends tried, and one deadline for the phase it is in. Every event takes `now`, so
/// `ExchangeTests` drive it with a plain number for a clock. Allocation-free: `tried` keeps
/// its capacity from one request to the next.
///
/// ```
/// routing ──pick──▶ connecting ──connected──▶ sending ──request sent──▶ awaitingHead
///    │  └─no slot─▶ queued ──slot──▶ (pick)                                  │
///    └─no route / too large ─▶ answered             101 ◀──┬── response head ┘
///                                                  tunnel   └──▶ streaming ──end──▶ done
/// any failure before the head: replay | blame ▶ retry (pick again) | answer (502/503/504)
/// any failure after the head: cut          client gone mid-upload: abort
/// ```
///
/// The rule it keeps: once a request head has been read, the connection is never closed
/// under it silently. Every path ends in an answer, a complete or visibly cut response, a
/// tunnel, or the client's own departure.
struct Exchange {
    private(set) var state = State.idle
    /// When the current phase times out (`.max`: no deadline).
    private(set) var deadline: UInt64 = .max
    var policy = Policy()

    // The request.
    private(set) var method = Method.get
    private(set) var hasBody = false
    private(set) var requestDone = true
    private(set) var clientIsHTTP11 = true
    private(set) var upgradeRequested = false
    /// The connection stays open after this exchange (the client asked, nothing forbids it).
    private(set) var keepAlive = true
    /// The client half-closed while its request was in service (logged `aborted`).
    private(set) var clientLeft = false

    // Attempts.
    /// Backend indices (of the cluster) tried, in order. Reset by the admission queue when a
    /// reload moves a waiter to the new snapshot's cluster (the indices change).
    var tried: [Int] = []
    private(set) var replays = 0
    private(set) var retriesUsed = 0
    /// This exchange holds a slot of the cluster's retry budget (give it back at the end).
    private(set) var countedInBudget = false

    // The response.
    /// The status answered (0 until a final head or Sluice's own answer).
    private(set) var status = 0
    private(set) var responseStarted = false
    private(set) var responseFraming = BodyFraming.none
    private(set) var bodyMode = ClientBodyMode.none
    /// The backend connection may serve another exchange after this one.
    private(set) var upstreamReusable = false

    // Times (monotonic ns) for the access log and metrics.
    private(set) var startedAt: UInt64 = 0
    private(set) var upstreamStartedAt: UInt64 = 0
    private(set) var firstByteAt: UInt64 = 0
    /// When the request was fully written to the backend (0: not yet); adaptive limits' samples.
    private(set) var requestSentAt: UInt64 = 0

    init() { tried.reserveCapacity(4) }

    /// The attempt facts `RetryDecision` reads.
    var attempt: RetryDecision.Attempt {
        .init(
            method: method, hasBody: hasBody, requestDone: requestDone, responseStarted: responseStarted,
            replays: replays, retriesUsed: retriesUsed, countedInBudget: countedInBudget)
    }

    /// The connection may read the next request after this exchange.
    var connectionContinues: Bool { requestDone && keepAlive }

    /// The phase has a silence limit that progress restarts.
    var extendsOnProgress: Bool { state == .sending || state == .streaming || state == .tunnel }

    // MARK: events

    /// A request head was parsed. `keepAlive`: the client wants it and the listener is not
    /// draining. `body`: its framing (`.untilClose` cannot occur in a request).
    mutating func begin(
        now: UInt64, method: Method, body: BodyFraming, http11: Bool, keepAlive: Bool, upgrade: Bool
    ) {
        state = .routing
        deadline = .max
        self.method = method
        switch body {
        case .none, .untilClose: hasBody = false
        case .contentLength, .chunked: hasBody = true
        }
        requestDone = !hasBody
        clientIsHTTP11 = http11
        self.keepAlive = keepAlive
        upgradeRequested = upgrade
        clientLeft = false
        tried.removeAll(keepingCapacity: true)
        replays = 0
        retriesUsed = 0
        countedInBudget = false
        status = 0
        responseStarted = false
        responseFraming = .none
        bodyMode = .none
        upstreamReusable = false
        startedAt = now
        upstreamStartedAt = 0
        firstByteAt = 0
        requestSentAt = 0
    }

    /// The route chose a cluster whose policy applies from now on: pick its first backend.
    mutating func routed(_ policy: Policy) -> ExchangeAction {
        self.policy = policy
        return .pick(failover: false)
    }

    /// The pick chose backend `index` of the cluster; `connected`: a pooled (or instantly
    /// connected) connection is ready for the request.
    mutating func backendChosen(_ index: Int, connected: Bool, now: UInt64) {
        tried.append(index)
        upstreamStartedAt = now
        firstByteAt = 0
        requestSentAt = 0
        if connected {
            enter(.sending, now &+ policy.response)
        } else {
            enter(.connecting, now &+ policy.connect)
        }
    }

    /// The upstream connection is ready (TCP and TLS): the request may go.
    mutating func connected(now: UInt64) {
        guard state == .connecting else { return }
        enter(.sending, now &+ policy.response)
    }

    /// The request body was read to its end.
    mutating func requestBodyEnded() { requestDone = true }

    /// The request is fully written to the backend: the response is due within `response`.
    mutating func requestSent(now: UInt64) {
        guard state == .sending, requestDone else { return }
        requestSentAt = now
        enter(.awaitingHead, now &+ policy.response)
    }

    /// Bytes moved in a phase with a silence limit (request body out, response body in or out,
    /// tunnel traffic): the limit starts again.
    mutating func progress(now: UInt64) {
        switch state {
        case .sending, .streaming: deadline = now &+ policy.response
        case .tunnel: deadline = now &+ policy.tunnelIdle
        default: break
        }
    }

    /// The first byte of a response arrived (for the access log's upstream time).
    mutating func responseBytesArrived(now: UInt64) {
        if firstByteAt == 0 { firstByteAt = now }
    }

    /// The backend failed before a complete response head.
    mutating func upstreamFailed(_ failure: UpstreamFailure) -> ExchangeAction {
        if RetryDecision.replays(failure, attempt) {
            replays += 1
            tried.removeLast()
            state = .routing
            deadline = .max
            return .replay
        }
        return .blame(failure)
    }

    /// After the blame of `failure`: another backend, or the error answer for the failure.
    mutating func retryOrAnswer(after failure: UpstreamFailure, capacity: () -> RetryCapacity) -> ExchangeAction {
        if case .retry(let reason) = RetryDecision.decide(failure, attempt, policy: policy.retries, capacity: capacity) {
            return retrying(reason, carry: reason == .connectFailure)
        }
        switch failure {
        case .connect(timedOut: true): return fail(ErrorAnswer(502, "backend connect timeout"))
        case .connect: return fail(ErrorAnswer(502, "backend refused the connection"))
        case .closedBeforeHead(_, received: false): return fail(ErrorAnswer(502, "backend closed the connection before answering"))
        case .closedBeforeHead: return fail(ErrorAnswer(502, "incomplete response head"))
        case .responseTimeout: return fail(ErrorAnswer(504, "backend did not answer in time"))
        }
    }

    /// A complete response head with `status`. `backendCloses`: it said `Connection: close`;
    /// `draining`: the worker is shutting down (the answer then closes the connection).
    mutating func responseHead(
        status s: Int, framing: BodyFraming, backendCloses: Bool, draining: Bool, now: UInt64,
        capacity: () -> RetryCapacity
    ) -> ExchangeAction {
        if s == 101 {
            guard upgradeRequested else { return fail(ErrorAnswer(502, "backend switched protocols unasked")) }
            status = 101
            responseStarted = true
            enter(.tunnel, now &+ policy.tunnelIdle)
            return .tunnel
        }
        if s < 200 {
            deadline = now &+ policy.response  // the backend is alive: the final head gets a full `response`
            return .interim(forward: clientIsHTTP11)
        }
        if s >= 500, policy.retries != nil,
            case .retry(let reason) = RetryDecision.decide(nil, status: s, attempt, policy: policy.retries, capacity: capacity)
        {
            return retrying(reason, carry: false)  // the 5xx is dropped with its connection
        }
        status = s
        responseFraming = framing
        upstreamReusable = !backendCloses
        switch framing {
        case .none: bodyMode = .none
        case .contentLength: bodyMode = .raw
        case .chunked: bodyMode = clientIsHTTP11 ? .chunked : .raw
        case .untilClose:
            upstreamReusable = false
            bodyMode = clientIsHTTP11 ? .chunked : .raw
        }
        if bodyMode == .raw, !clientIsHTTP11, !framing.isContentLength {
            keepAlive = false  // an HTTP/1.0 client learns the end from the close
        }
        if !requestDone { keepAlive = false }  // answered before the body ended: cannot resync
        if draining { keepAlive = false }
        responseStarted = true
        enter(.streaming, now &+ policy.response)
        return .forward(bodyMode)
    }

    /// The response body reached its end (or had none).
    mutating func responseEnded() -> ExchangeAction {
        guard state == .streaming else { return .wait }
        state = .done
        deadline = .max
        return .finish(reuse: upstreamReusable && requestDone)
    }

    /// The backend closed (or failed) while the body streamed: the end of a close-delimited
    /// body, else a cut.
    mutating func upstreamEndedDuringBody(failed: Bool) -> ExchangeAction {
        guard state == .streaming else { return .wait }
        if responseFraming == .untilClose && !failed {
            upstreamReusable = false
            return responseEnded()
        }
        return cut()
    }

    /// Something went wrong that is not the backend's absence (a bad response head or chunk
    /// from the backend, a bad request body, a body over the limit, no route): an answer when
    /// nothing was sent yet, else a cut.
    mutating func fail(_ answer: ErrorAnswer) -> ExchangeAction {
        if responseStarted { return cut() }
        return answerWith(.answer(answer), status: answer.status)
    }

    /// The client closed its side. Mid-upload that ends the exchange; after the request was
    /// read it is a half-close: the answer still goes out, logged `aborted`.
    mutating func clientClosed() -> ExchangeAction {
        switch state {
        case .idle, .answered, .done: return .wait
        default:
            if !requestDone { return abort() }
            clientLeft = true
            return .wait
        }
    }

    /// The connection ends after this exchange (a drain, a removed listener).
    mutating func forbidKeepAlive() { keepAlive = false }

    /// The client cannot be written to: nothing left to answer.
    mutating func abort() -> ExchangeAction {
        state = .answered
        deadline = .max
        keepAlive = false
        return .abort
    }

    /// The drain deadline passed with this exchange running: a 503 if the answer has not
    /// started, else a cut.
    mutating func abandoned() -> ExchangeAction {
        keepAlive = false
        switch state {
        case .idle, .answered, .done: return .wait
        case .tunnel: return .close
        default: return fail(ErrorAnswer(503, "shutting down", retryAfter: 1))
        }
    }

    /// The deadline may have passed. `backendStoppedReading`: while sending, the backend
    /// holds unsent request bytes and the client has nothing more for now (a backend that
    /// does not read, not a slow client).
    mutating func timerFired(now: UInt64, backendStoppedReading: Bool) -> ExchangeAction {
        guard now >= deadline else { return .wait }
        switch state {
        case .idle, .routing, .answered, .done:
            deadline = .max
            return .wait
        case .queued: return shed(.queueTimeout)
        case .connecting:
            deadline = .max
            return .blame(.connect(timedOut: true))
        case .sending:
            if backendStoppedReading { return fail(ErrorAnswer(504, "backend stopped reading the request body")) }
            return fail(ErrorAnswer(408, "request body not received in time"))
        case .awaitingHead:
            deadline = .max
            return .blame(.responseTimeout)
        case .streaming: return cut()  // the body stalled: the client must see a cut response
        case .coalescing: return fail(ErrorAnswer(504, "the shared response did not arrive in time"))
        case .tunnel:
            state = .answered
            deadline = .max
            return .close
        }
    }

    /// The exchange ended (logged, connection going on or closing). True when it held a retry
    /// budget slot, which the caller gives back.
    mutating func end() -> Bool {
        state = .idle
        deadline = .max
        defer { countedInBudget = false }
        return countedInBudget
    }

    // MARK: answers that need no backend (the cache: Exchange+Cache)

    /// The answer comes from elsewhere than a backend: its head goes out now, its body in
    /// `framing`, re-framed for the client in `mode`; `closeAfter`: the connection ends after it.
    mutating func localAnswer(status s: Int, framing: BodyFraming, mode: ClientBodyMode, closeAfter: Bool, now: UInt64) {
        status = s
        upstreamReusable = false
        responseFraming = framing
        bodyMode = mode
        if closeAfter { keepAlive = false }
        responseStarted = true
        enter(.streaming, now &+ policy.response)
    }

    // MARK: private

    mutating func enter(_ s: State, _ at: UInt64) {
        state = s
        deadline = at
    }

    private mutating func retrying(_ reason: RetryReason, carry: Bool) -> ExchangeAction {
        retriesUsed += 1
        countedInBudget = true
        state = .routing
        deadline = .max
        firstByteAt = 0
        return .retry(reason, carry: carry)
    }

    private mutating func cut() -> ExchangeAction {
        state = .answered
        deadline = .max
        keepAlive = false
        return .cut
    }

    /// An answer that does not end the connection by itself (`connectionContinues` says).
    mutating func refuse(_ action: ExchangeAction, status code: Int) -> ExchangeAction {
        let continues = requestDone && keepAlive
        let a = answerWith(action, status: code)
        keepAlive = continues
        return a
    }

    private mutating func answerWith(_ action: ExchangeAction, status code: Int) -> ExchangeAction {
        status = code
        responseStarted = true
        keepAlive = false
        state = .answered
        deadline = .max
        return action
    }
}

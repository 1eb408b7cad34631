/// The issue-8 cases as plans (each under 60 s) and the issue-9 hot page
/// (`CasePlan+HotPage.swift`). Pure; any thread.
extension CasePlan {
    /// The plan of `c` with these parameters.
    public static func make(_ c: BenchCase, _ p: CaseParameters = CaseParameters()) -> CasePlan {
        switch c {
        case .flashSale: flashSale(p)
        case .mix: mix(p)
        case .slowdown: slowdown(p)
        case .abuser: abuser(p)
        case .hotPage: hotPage(p)
        }
    }

    /// Baseline; 3x capacity for 10 s; baseline 8 s; 10x capacity for 10 s; baseline 10 s.
    /// Each spike gets its own recovery time. 45 s with the default warm-up.
    public static func flashSale(_ p: CaseParameters) -> CasePlan {
        let base = p.baselineRate
        let phases = [
            CasePhase(name: "warmup", seconds: p.warmupSeconds), CasePhase(name: "baseline", seconds: 5),
            CasePhase(name: "spike-3x", seconds: 10, isSpike: true), CasePhase(name: "after-3x", seconds: 8),
            CasePhase(name: "spike-10x", seconds: 10, isSpike: true), CasePhase(name: "after-10x", seconds: 10),
        ]
        let rates = [base, base, 3 * p.capacity, base, 10 * p.capacity, base]
        return CasePlan(
            benchCase: .flashSale, parameters: p, phases: phases,
            streams: [LoadStream(group: "all", path: "/products/item", connections: p.connections, rates: rates)])
    }

    /// 10% checkout (critical) and 90% browsing (sheddable) throughout: baseline, a 3x spike
    /// for 10 s, baseline. 25 s with the default warm-up.
    public static func mix(_ p: CaseParameters) -> CasePlan {
        let phases = [
            CasePhase(name: "warmup", seconds: p.warmupSeconds), CasePhase(name: "baseline", seconds: 5),
            CasePhase(name: "spike-3x", seconds: 10, isSpike: true), CasePhase(name: "after", seconds: 8),
        ]
        let total = [p.baselineRate, p.baselineRate, 3 * p.capacity, p.baselineRate]
        let checkout = total.map { ($0 + 5) / 10 }
        let browse = zip(total, checkout).map { $0 - $1 }
        let checkoutConnections = max(16, p.connections / 10)
        return CasePlan(
            benchCase: .mix, parameters: p, phases: phases,
            streams: [
                LoadStream(group: "checkout", path: "/checkout/cart", connections: checkoutConnections, rates: checkout),
                LoadStream(
                    group: "browse", path: "/products/item", connections: max(16, p.connections - checkoutConnections), rates: browse),
            ],
            criticalGroup: "checkout")
    }

    /// 75% of capacity throughout; 8 s after the warm-up the backends' service time doubles
    /// (capacity halves, so the load is 1.5x the new capacity) for 15 s. 25 s by default.
    public static func slowdown(_ p: CaseParameters) -> CasePlan {
        let phases = [
            CasePhase(name: "warmup", seconds: p.warmupSeconds), CasePhase(name: "baseline", seconds: 8),
            CasePhase(name: "slow", seconds: 15, isSpike: true),
        ]
        let rate = Int((Double(p.capacity) * 0.75).rounded())
        var plan = CasePlan(
            benchCase: .slowdown, parameters: p, phases: phases,
            streams: [LoadStream(group: "all", path: "/products/item", connections: p.connections, rates: [rate, rate, rate])])
        plan.changes = [BackendChange(atSecond: p.warmupSeconds + 8, serviceTimeMillis: 2 * p.serviceTimeMillis)]
        plan.adaptive = true
        return plan
    }

    /// Ten clients at 1/10 of the baseline each, all the time; from the end of the baseline
    /// on, one more client (`X-Client-Id: abuser`) at 20x one client's rate for 15 s. The route
    /// limits each client to 2x an ordinary client's rate. 25 s with the default warm-up.
    public static func abuser(_ p: CaseParameters) -> CasePlan {
        let phases = [
            CasePhase(name: "warmup", seconds: p.warmupSeconds), CasePhase(name: "baseline", seconds: 8),
            CasePhase(name: "abuse", seconds: 15, isSpike: true),
        ]
        let clients = 10
        let each = max(1, p.baselineRate / clients)
        let perClient = max(4, p.connections / (2 * clients))
        var streams = (1...clients).map { i in
            LoadStream(
                group: "others", path: "/products/item", headers: ["X-Client-Id: client-\(i)"], connections: perClient,
                rates: [each, each, each])
        }
        streams.append(
            LoadStream(
                group: "abuser", path: "/products/item", headers: ["X-Client-Id: abuser"], connections: max(16, p.connections / 2),
                rates: [0, 0, 20 * each]))
        var plan = CasePlan(benchCase: .abuser, parameters: p, phases: phases, streams: streams)
        plan.protectedGroup = "others"
        plan.rateLimitPerClient = 2 * each
        plan.rateLimitBurst = max(1, each / 2)
        return plan
    }
}

extension Dashboard {
    /// The page's style sheet: a column of cluster cards, charts in a grid that wraps to one
    /// column on a phone, and the backend table turned into one card per backend below 760 px.
    static let style = #"""
        :root{--fg:#1f2328;--muted:#59636e;--bg:#f6f8fa;--card:#fff;--line:#d0d7de;--grid:#eaeef2;
        --ok:#3b82c4;--e5:#d62728;--shed:#f28e2b;--p50:#2ca02c;--p99:#9467bd;--standby:#8c564b;
        --queue:#0f9fb2;--inflight:#7f7f7f}
        *{box-sizing:border-box}
        body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:12px 16px 32px;
        color:var(--fg);background:var(--bg)}
        h1{font-size:20px;margin:0} h2{font-size:17px;margin:0 0 6px;overflow-wrap:anywhere}
        h3{font-size:14px;margin:14px 0 6px}
        header{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 14px;margin-bottom:10px}
        .meta{color:var(--muted);overflow-wrap:anywhere}
        .notice{padding:6px 10px;border-radius:6px;background:#ddf4ff;margin:6px 0;overflow-wrap:anywhere}
        .notice.err{background:#ffebe9;color:#a40e26}
        section.cluster{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px;margin:0 0 14px}
        .banner{padding:7px 12px;border-radius:6px;margin:4px 0 10px;overflow-wrap:anywhere}
        .banner b{text-transform:uppercase;letter-spacing:.04em;margin-right:6px}
        .banner.calm{background:#dafbe1;color:#116329}.banner.rising{background:#fff8c5;color:#6c4400}
        .banner.storm{background:#ffebe9;color:#a40e26}.banner.unknown{background:var(--grid);color:var(--muted)}
        .charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,460px),1fr));gap:10px}
        figure.chart{margin:0;border:1px solid var(--grid);border-radius:6px;padding:4px 6px 2px;min-width:0}
        figcaption{display:flex;flex-wrap:wrap;gap:2px 12px;font-size:12px;color:var(--muted)}
        figcaption .title{font-weight:600;color:var(--fg)}
        .key::before{content:"";display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;
        vertical-align:-1px;background:var(--c)}
        svg.plot{display:block;width:100%;height:170px;overflow:hidden}
        .axis text{font-size:11px;fill:var(--muted)} .axis line,.axis path{stroke:var(--line)}
        .gridline{stroke:var(--grid)} .storm-bg{fill:#ffd8d3;opacity:.5} .rising-bg{fill:#fff1a8;opacity:.5}
        .ev line.mark{stroke:#6e7781;stroke-dasharray:3 3} .ev path{fill:#6e7781}
        .ev.health line.mark{stroke:#cf222e} .ev.health path{fill:#cf222e}
        .ev.failover line.mark{stroke:#8250df} .ev.failover path{fill:#8250df}
        .ev.traffic line.mark,.ev.shedding line.mark{stroke:#bf8700} .ev.traffic path,.ev.shedding path{fill:#bf8700}
        .ev line.hit{stroke:transparent;stroke-width:9} .ev:hover line.mark{stroke-dasharray:none;stroke-width:2}
        .empty{font-size:12px;fill:var(--muted)}
        table.backends{width:100%;border-collapse:collapse;margin-top:4px}
        table.backends th,table.backends td{padding:5px 8px;border-bottom:1px solid var(--grid);text-align:left;vertical-align:middle}
        table.backends th{font-size:12px;color:var(--muted);font-weight:600}
        td.name{overflow-wrap:anywhere} td.name small{display:block;color:var(--muted)} td.tier small.source{display:block;color:var(--muted)}
        .state{font-weight:600}.state.healthy{color:#1a7f37}.state.unhealthy,.state.ejected{color:#cf222e}
        .state.draining{color:#9a6700}.state.disabled{color:#6e7781}
        tr.standby td.tier{color:var(--standby);font-weight:600}
        svg.spark{width:120px;height:28px;vertical-align:middle} svg.spark path{fill:none;stroke:var(--p99);stroke-width:1.5}
        .spark-value{font-size:12px;color:var(--muted);margin-left:4px;white-space:nowrap}
        .actions{display:flex;flex-wrap:wrap;gap:4px;align-items:center}
        button{font:inherit;font-size:12px;padding:3px 8px;border:1px solid var(--line);border-radius:5px;background:#f6f8fa;cursor:pointer}
        button:hover{background:#eaeef2} input.weight{width:64px;font:inherit;font-size:12px;padding:2px 4px}
        ol.events{list-style:none;margin:0;padding:0;background:var(--card);border:1px solid var(--line);border-radius:8px}
        ol.events li{display:flex;flex-wrap:wrap;gap:2px 10px;padding:5px 10px;border-bottom:1px solid var(--grid);overflow-wrap:anywhere}
        ol.events li:last-child{border-bottom:0} ol.events time{color:var(--muted);font-variant-numeric:tabular-nums}
        .kind{font-size:11px;font-weight:600;text-transform:uppercase;padding:1px 6px;border-radius:10px;background:var(--grid)}
        .kind.health{background:#ffebe9;color:#a40e26}.kind.failover{background:#fbefff;color:#6639ba}
        .kind.traffic,.kind.shedding{background:#fff8c5;color:#6c4400}.kind.reload,.kind.discovery{background:#ddf4ff;color:#0550ae}
        @media (max-width:760px){
        body{padding:8px 8px 24px} section.cluster{padding:8px}
        table.backends thead{display:none} table.backends,table.backends tbody{display:block}
        table.backends tr{display:block;border:1px solid var(--grid);border-radius:6px;margin:8px 0;padding:4px 2px}
        table.backends td{display:flex;justify-content:space-between;align-items:center;gap:8px;border:0;padding:3px 6px;
        min-width:0;text-align:right}
        table.backends td::before{content:attr(data-label);color:var(--muted);text-align:left;flex:none}
        td.name{font-weight:600} .actions{justify-content:flex-end}
        }
        """#
}

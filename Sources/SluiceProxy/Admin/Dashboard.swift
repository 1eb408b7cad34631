/// The admin dashboard (`GET /`): one self-contained page (no external script, font or
/// image) that tells what happened in the last 15 minutes from the moment it opens.
///
/// At load it fetches `/history?seconds=900` and draws at once, then polls
/// `/history?since=T` and `/status` every two seconds. Per cluster: a traffic-state banner,
/// charts with clock and value axes (requests/s stacked with 5xx and shed, p50/p99, standby
/// share, queue depth and in flight) with the events as markers on the time axis, and one row
/// per backend (state, tier, weight, in flight, a latency sparkline, the runtime buttons);
/// under them the recent events. Every name and text from the server is inserted as a text
/// node or an attribute value, never parsed as HTML. The page is assembled from the style
/// (`Dashboard+Style.swift`), the chart drawing (here) and the rest of the script
/// (`Dashboard+Script.swift`); the charts are inline SVG sized to their box.
enum Dashboard {
    /// The page as `GET /` sends it.
    static let html = [top, style, middle, charts, script, bottom].joined()

    static let top = #"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Sluice</title>
        <meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
        <style>
        """#

    static let middle = #"""
        </style></head><body>
        <header><h1>Sluice</h1><div class="meta" id="meta">loading…</div></header>
        <div class="meta" id="listeners"></div>
        <div class="notice" id="notice" hidden></div>
        <main id="clusters"></main>
        <h3>Recent events</h3>
        <ol class="events" id="events"><li class="meta">no events in the last 15 minutes</li></ol>
        <script>
        'use strict';

        """#

    static let bottom = #"""
        </script></body></html>
        """#

    /// The SVG charts: a time axis with clock labels, a value axis with round steps, stacked
    /// areas or lines with gaps where a second has no value, the traffic state as a shaded
    /// background, and the events as markers whose `<title>` is their text. Each plot carries
    /// `data-points` (seconds drawn with a value), `data-nonzero` (those above 0), `data-max`
    /// and `data-last` for tests.
    static let charts = #"""
        const SVGNS = 'http://www.w3.org/2000/svg';
        function svg(tag, attrs, parent) {
          const e = document.createElementNS(SVGNS, tag);
          for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
          if (parent) parent.append(e);
          return e;
        }
        function pad2(n) { return String(n).padStart(2, '0'); }
        function clock(t, seconds) {
          const d = new Date(t * 1000);
          return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + (seconds === false ? '' : ':' + pad2(d.getSeconds()));
        }
        function fmt(v) {
          if (v == null || !isFinite(v)) return '–';
          const a = Math.abs(v);
          if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
          if (a >= 1e4) return (v / 1e3).toFixed(0) + 'k';
          if (a >= 1e3) return (v / 1e3).toFixed(1) + 'k';
          if (a >= 100 || Number.isInteger(v)) return v.toFixed(0);
          if (a >= 10) return v.toFixed(1);
          if (a >= 0.1) return v.toFixed(2);
          return a === 0 ? '0' : v.toPrecision(2);
        }
        function niceStep(raw) {
          const p = Math.pow(10, Math.floor(Math.log10(raw)));
          const f = raw / p;
          return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
        }
        const TIME_STEPS = [5, 10, 15, 30, 60, 120, 300, 600, 900];
        // One chart. spec: {key, stacked, max, series: [{label, color, get(P, i)}]}; P: the
        // cluster's columns; win: {t0, t1, i0}; events: [{t, kind, text}].
        function drawChart(el, spec, P, win, events) {
          const W = Math.max(200, Math.round(el.getBoundingClientRect().width || 600)), H = 170;
          const L = 44, R = 8, T = 8, B = 20, iw = W - L - R, ih = H - T - B;
          el.setAttribute('viewBox', `0 0 ${W} ${H}`);
          el.replaceChildren();
          const t = P.t || [], n = t.length, span = Math.max(1, win.t1 - win.t0);
          const X = tt => L + (tt - win.t0) / span * iw;
          const vals = spec.series.map(s => t.map((_, i) => { const v = s.get(P, i); return v == null || !isFinite(v) ? null : v; }));
          let max = 0, points = 0, nonzero = 0;
          for (let i = win.i0; i < n; i++) {
            let sum = 0, any = false;
            for (const v of vals) if (v[i] != null) { any = true; sum = spec.stacked ? sum + v[i] : Math.max(sum, v[i]); }
            if (any) { points++; if (sum > 0) nonzero++; max = Math.max(max, sum); }
          }
          const step = spec.max ? spec.max / 4 : niceStep(Math.max(max, 1e-9) / 4);
          const top = spec.max || Math.max(step, Math.ceil(max / step - 1e-9) * step);
          const Y = v => T + ih - v / top * ih;
          // Traffic state as a background band.
          const st = P.state || [];
          for (let i = win.i0; i < n; i++) {
            if (st[i] !== 'rising' && st[i] !== 'storm') continue;
            let j = i; while (j + 1 < n && st[j + 1] === st[i]) j++;
            svg('rect', {class: st[i] + '-bg', x: X(t[i] - 0.5), y: T, width: Math.max(1, X(t[j] + 0.5) - X(t[i] - 0.5)), height: ih}, el);
            i = j;
          }
          const axis = svg('g', {class: 'axis'}, el);
          for (let k = 0; k * step <= top * 1.0001; k++) {
            const v = k * step, y = Y(v);
            svg('line', {class: 'gridline', x1: L, x2: W - R, y1: y, y2: y}, axis);
            svg('text', {x: L - 4, y: y + 4, 'text-anchor': 'end'}, axis).textContent = fmt(v);
          }
          const ts = TIME_STEPS.find(s => span / s <= Math.max(2, iw / 70)) || 1800;
          for (let tt = Math.ceil(win.t0 / ts) * ts; tt <= win.t1; tt += ts) {
            const x = X(tt);
            svg('line', {x1: x, x2: x, y1: T + ih, y2: T + ih + 4}, axis);
            const label = svg('text', {x: x, y: H - 4, 'text-anchor': x - L < 24 ? 'start' : W - R - x < 24 ? 'end' : 'middle'}, axis);
            label.textContent = clock(tt, ts < 60);
          }
          svg('path', {d: `M${L} ${T}V${T + ih}H${W - R}`, fill: 'none'}, axis);
          if (points === 0) {
            svg('text', {class: 'empty', x: L + iw / 2, y: T + ih / 2, 'text-anchor': 'middle'}, el).textContent = 'no data yet';
          }
          const base = new Array(n).fill(0);
          vals.forEach((v, k) => {
            const s = spec.series[k];
            if (spec.stacked) {
              let up = '', down = '';
              for (let i = win.i0; i < n; i++) {
                const y0 = base[i], y1 = y0 + (v[i] || 0);
                up += (up ? 'L' : 'M') + X(t[i]).toFixed(1) + ' ' + Y(y1).toFixed(1);
                down = 'L' + X(t[i]).toFixed(1) + ' ' + Y(y0).toFixed(1) + down;
                base[i] = y1;
              }
              if (up) svg('path', {d: up + down + 'Z', fill: s.color, 'fill-opacity': 0.85, stroke: s.color, 'stroke-width': 0.5, 'data-series': s.label}, el);
            } else {
              let d = '', pen = false;
              for (let i = win.i0; i < n; i++) {
                if (v[i] == null) { pen = false; continue; }
                d += (pen ? 'L' : 'M') + X(t[i]).toFixed(1) + ' ' + Y(v[i]).toFixed(1);
                pen = true;
              }
              if (d) svg('path', {d: d, fill: 'none', stroke: s.color, 'stroke-width': 1.6, 'stroke-linejoin': 'round', 'data-series': s.label}, el);
            }
          });
          let marks = 0;
          for (const e of events) {
            if (e.t < win.t0 - 0.5 || e.t > win.t1 + 1) continue;
            const x = Math.min(W - R, X(e.t)), g = svg('g', {class: 'ev ' + e.kind}, el);
            svg('title', {}, g).textContent = clock(e.t) + ' ' + e.kind + ': ' + e.text;
            svg('line', {class: 'mark', x1: x, x2: x, y1: T, y2: T + ih}, g);
            svg('line', {class: 'hit', x1: x, x2: x, y1: T, y2: T + ih + 6}, g);
            svg('path', {d: `M${x - 4} ${T + ih + 6}L${x + 4} ${T + ih + 6}L${x} ${T + ih}Z`}, g);
            marks++;
          }
          const first = vals[0] || [];
          let last = null;
          for (let i = n - 1; i >= win.i0; i--) if (first[i] != null) { last = first[i]; break; }
          el.dataset.points = points; el.dataset.nonzero = nonzero; el.dataset.max = max; el.dataset.last = last == null ? '' : last; el.dataset.events = marks;
          return vals.map(v => { for (let i = n - 1; i >= win.i0; i--) if (v[i] != null) return v[i]; return null; });
        }
        // A backend's latency over the window: p99 where it has any, else p50, in ms.
        function drawSpark(el, bp, P, win) {
          const t = P.t || [], n = t.length, W = 120, H = 28;
          el.replaceChildren();
          const col = (bp.p99 || []).some(v => v != null) ? bp.p99 : (bp.p50 || []);
          let max = 0, d = '', pen = false, last = null, count = 0;
          for (let i = win.i0; i < n; i++) if (col[i] != null) max = Math.max(max, col[i]);
          const span = Math.max(1, win.t1 - win.t0);
          for (let i = win.i0; i < n; i++) {
            const v = col[i];
            if (v == null) { pen = false; continue; }
            const x = (t[i] - win.t0) / span * (W - 2) + 1, y = H - 2 - (max > 0 ? v / max : 0) * (H - 4);
            d += (pen ? 'L' : 'M') + x.toFixed(1) + ' ' + y.toFixed(1);
            pen = true; last = v; count++;
          }
          if (d) svg('path', {d: d}, el);
          const what = col === bp.p99 ? 'p99' : 'p50';
          svg('title', {}, el).textContent = `${what} latency, last ${Math.round(span / 60)} min: now ${fmt(last == null ? null : last * 1000)} ms, max ${fmt(max * 1000)} ms`;
          el.dataset.points = count;
          return {what: what, last: last};
        }

        """#
}

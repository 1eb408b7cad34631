/// The admin dashboard (`GET /`): one self-contained page that polls `/status` every two
/// seconds and draws requests/s, mean latency and 5xx/s per cluster for the last five
/// minutes, the failover share, the cache hit ratio of clusters with cached routes, and every
/// backend with its state and runtime buttons.
enum Dashboard {
    static let html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Sluice</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
        h1{font-size:20px;margin:0 0 .2em} h2{font-size:16px;margin:1.2em 0 .4em}
        .meta{color:#666} table{border-collapse:collapse;background:#fff;margin:.4em 0}
        td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}
        .healthy{color:#1a7f37;font-weight:600}.unhealthy{color:#cf222e;font-weight:600}
        .draining{color:#9a6700;font-weight:600}.disabled{color:#6e7781;font-weight:600}
        .charts{display:flex;gap:12px;flex-wrap:wrap} canvas{background:#fff;border:1px solid #ddd}
        button{font-size:12px;margin-right:4px} .err{color:#cf222e}
        </style></head><body>
        <h1>Sluice</h1><div class="meta" id="meta">loading…</div><div id="clusters"></div>
        <script>
        const hist = {}; const keep = 150; let last = null;
        async function act(c, b, a) {
          const r = await fetch(`/clusters/${encodeURIComponent(c)}/backends/${encodeURIComponent(b)}/${a}`, {method: 'POST'});
          if (!r.ok) alert(await r.text()); tick();
        }
        function draw(canvas, points, color, label) {
          const ctx = canvas.getContext('2d'), w = canvas.width, h = canvas.height;
          ctx.clearRect(0, 0, w, h); const max = Math.max(1e-9, ...points);
          ctx.fillStyle = '#666'; ctx.font = '12px sans-serif';
          ctx.fillText(`${label}: ${(points[points.length - 1] || 0).toFixed(1)} (max ${max.toFixed(1)})`, 6, 14);
          ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.beginPath();
          points.forEach((v, i) => { const x = i * w / (keep - 1), y = h - 4 - (v / max) * (h - 24);
            i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); }); ctx.stroke();
        }
        function esc(s) { return String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c])); }
        async function tick() {
          let s; try { s = await (await fetch('/status')).json(); }
          catch (e) { document.getElementById('meta').innerHTML = '<span class="err">admin API unreachable</span>'; return; }
          const now = Date.now() / 1000, lr = s.config.last_reload;
          document.getElementById('meta').textContent =
            `config ${s.config.path} · generation ${s.config.generation} · last reload ${lr.result} at ${lr.at}` +
            (lr.errors.length ? ` (${lr.errors.length} errors)` : '') + ` · ${s.workers} workers · up ${s.uptime_seconds}s`;
          let html = '';
          for (const c of s.clusters) {
            const h = hist[c.name] || (hist[c.name] = {rps: [], lat: [], err: []});
            const prev = last && last.clusters.find(x => x.name === c.name);
            let cacheText = '';
            if (c.cache) {
              const served = k => (c.cache[k] || 0) - (prev && prev.cache ? (prev.cache[k] || 0) : 0);
              const all = ['hit', 'miss', 'stale', 'revalidated', 'coalesced', 'bypass'].reduce((a, k) => a + served(k), 0);
              const hits = served('hit') + served('stale');
              cacheText = ` · cache hit ratio ${all > 0 ? (hits / all * 100).toFixed(1) + '%' : '–'}` +
                (s.cache ? ` (${s.cache.objects} objects, ${(s.cache.bytes / 1048576).toFixed(1)} MiB)` : '');
            }
            if (prev) {
              const dt = Math.max(0.001, now - last.at), dn = c.requests_total - prev.requests_total;
              const dd = c.duration_sum_seconds - prev.duration_sum_seconds, dc = c.duration_count - prev.duration_count;
              h.rps.push(dn / dt); h.err.push((c.errors_total - prev.errors_total) / dt); h.lat.push(dc > 0 ? dd / dc * 1000 : 0);
              for (const k of ['rps', 'lat', 'err']) while (h[k].length > keep) h[k].shift();
            }
            html += `<h2>${esc(c.name)} <span class="meta">${esc(c.balance)} · standby share ${(c.standby_share * 100).toFixed(1)}%${cacheText}` +
              `${c.all_down ? ' · <span class="err">no healthy backend</span>' : ''}</span></h2>` +
              `<div class="charts"><canvas id="r-${esc(c.name)}" width="360" height="110"></canvas>` +
              `<canvas id="l-${esc(c.name)}" width="360" height="110"></canvas><canvas id="e-${esc(c.name)}" width="360" height="110"></canvas></div>` +
              '<table><tr><th>backend</th><th>address</th><th>tier</th><th>weight</th><th>effective</th><th>state</th>' +
              '<th>active</th><th>requests</th><th>checks pass/fail</th><th></th></tr>';
            for (const b of c.backends) {
              html += `<tr><td>${esc(b.name)}</td><td>${esc(b.address)}</td><td>${b.tier}</td><td>${b.weight}</td>` +
                `<td>${b.effective_weight}</td><td class="${b.state}">${b.state}</td><td>${b.active_requests}</td>` +
                `<td>${b.requests_total}</td><td>${b.health_checks.passed}/${b.health_checks.failed}</td><td>` +
                ['drain', 'disable', 'enable'].map(a => `<button onclick="act('${esc(c.name)}','${esc(b.name)}','${a}')">${a}</button>`).join('') +
                '</td></tr>';
            }
            html += '</table>';
          }
          document.getElementById('clusters').innerHTML = html;
          for (const c of s.clusters) {
            const h = hist[c.name];
            draw(document.getElementById(`r-${c.name}`), h.rps, '#1f77b4', 'requests/s');
            draw(document.getElementById(`l-${c.name}`), h.lat, '#9467bd', 'mean latency ms');
            draw(document.getElementById(`e-${c.name}`), h.err, '#d62728', '5xx/s');
          }
          last = {at: now, clusters: s.clusters};
        }
        tick(); setInterval(tick, 2000);
        </script></body></html>
        """
}

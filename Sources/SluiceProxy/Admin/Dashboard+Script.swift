extension Dashboard {
    /// The page's state and polling: the history's columns kept per cluster and backend
    /// (900 seconds at most, appended from `/history?since=T`), the events (deduplicated, the
    /// last 200), `/status` for the live states, and the runtime buttons (with the admin token
    /// asked for once on a 401 and kept for the tab). The DOM is built once per cluster and
    /// backend and updated in place; text goes in through `textContent` and `append(string)`.
    static let script = #"""
        const KEEP = 900, POLL_MS = 2000, MAX_EVENTS = 200;
        const model = {clusters: new Map(), events: [], eventKeys: new Set(), generation: null, lastT: null, now: null, status: null, prev: null};
        const views = new Map();
        function el(tag, attrs, ...kids) {
          const e = document.createElement(tag);
          for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
          e.append(...kids.map(k => k instanceof Node ? k : String(k)));
          return e;
        }
        function notice(text, isError) {
          const n = document.getElementById('notice');
          n.textContent = text; n.hidden = !text; n.className = isError ? 'notice err' : 'notice';
        }
        // Appends the columns of `src` from index `from` to `dst`, which holds `len` seconds;
        // a column missing on either side is padded with nulls so that all stay aligned.
        function appendColumns(dst, src, from, len, added) {
          for (const [k, v] of Object.entries(src || {})) {
            if (Array.isArray(v)) {
              if (!Array.isArray(dst[k])) dst[k] = new Array(len).fill(null);
              const a = dst[k];
              while (a.length < len) a.push(null);
              for (let i = from; i < v.length; i++) a.push(v[i]);
            } else if (v && typeof v === 'object') {
              appendColumns(dst[k] || (dst[k] = {}), v, from, len, added);
            }
          }
          padColumns(dst, len + added);
        }
        function padColumns(dst, len) {
          for (const v of Object.values(dst)) {
            if (Array.isArray(v)) { while (v.length < len) v.push(null); if (v.length > len) v.splice(0, v.length - len); }
            else if (v && typeof v === 'object') padColumns(v, len);
          }
        }
        function trimColumns(dst, cut) {
          for (const v of Object.values(dst)) {
            if (Array.isArray(v)) v.splice(0, cut);
            else if (v && typeof v === 'object') trimColumns(v, cut);
          }
        }
        function mergeHistory(h, replace) {
          if (replace) model.clusters.clear();
          const seen = new Set();
          for (const c of h.clusters || []) {
            seen.add(c.name);
            let m = model.clusters.get(c.name);
            if (!m) { m = {name: c.name, points: {t: []}, backends: new Map(), traffic: null}; model.clusters.set(c.name, m); }
            m.traffic = c.traffic || null;
            const t = (c.points && c.points.t) || [], have = m.points.t, len = have.length;
            const lastHave = len ? have[len - 1] : -Infinity;
            let from = 0;
            while (from < t.length && t[from] <= lastHave) from++;
            const added = t.length - from;
            appendColumns(m.points, c.points, from, len, added);
            const listed = new Set();
            for (const b of c.backends || []) {
              listed.add(b.name);
              let mb = m.backends.get(b.name);
              if (!mb) { mb = {points: {}}; m.backends.set(b.name, mb); }
              for (const [k, v] of Object.entries(b)) if (k !== 'points') mb[k] = v;
              appendColumns(mb.points, b.points, from, len, added);
            }
            for (const [name, mb] of m.backends) {
              if (!listed.has(name) && (c.backends || []).length) m.backends.delete(name);
              else padColumns(mb.points, len + added);
            }
            const cut = m.points.t.length - KEEP;
            if (cut > 0) { trimColumns(m.points, cut); for (const mb of m.backends.values()) trimColumns(mb.points, cut); }
            if (m.points.t.length) model.lastT = Math.max(model.lastT || 0, m.points.t[m.points.t.length - 1]);
          }
          // A reload removes a cluster with its points: gone from an answer of another generation.
          if (!replace && h.generation !== model.generation) for (const name of [...model.clusters.keys()]) if (!seen.has(name)) model.clusters.delete(name);
          model.generation = h.generation;
          model.now = h.now;
          for (const e of h.events || []) {
            const key = [e.t, e.kind, e.cluster, e.backend, e.text].join('|');
            if (model.eventKeys.has(key)) continue;
            model.eventKeys.add(key);
            model.events.push(e);
          }
          model.events.sort((a, b) => a.t - b.t);
          if (model.events.length > MAX_EVENTS) {
            for (const e of model.events.splice(0, model.events.length - MAX_EVENTS)) model.eventKeys.delete([e.t, e.kind, e.cluster, e.backend, e.text].join('|'));
          }
        }
        async function getJSON(path) {
          const r = await fetch(path, {cache: 'no-store'});
          if (!r.ok) throw new Error(`${path}: ${r.status} ${(await r.text()).trim()}`);
          return r.json();
        }
        const CHARTS = [
          {key: 'requests', title: 'requests/s', stacked: true, series: [
            {label: 'answered (2xx–4xx)', color: 'var(--ok)', get: (P, i) => ['2xx', '3xx', '4xx'].reduce((a, k) => a + ((P[k] || [])[i] || 0), 0)},
            {label: '5xx', color: 'var(--e5)', get: (P, i) => (P['5xx'] || [])[i]},
            {label: 'shed', color: 'var(--shed)', get: (P, i) => (P.shed || [])[i]}]},
          {key: 'latency', title: 'latency (ms)', series: [
            {label: 'p50', color: 'var(--p50)', get: (P, i) => ms((P.p50 || [])[i])},
            {label: 'p99', color: 'var(--p99)', get: (P, i) => ms((P.p99 || [])[i])}]},
          {key: 'standby', title: 'standby share (%)', max: 100, series: [
            {label: 'to standby', color: 'var(--standby)', get: (P, i) => pct((P.standby_share || [])[i])}]},
          {key: 'queue', title: 'queue depth and in flight', series: [
            {label: 'queue', color: 'var(--queue)', get: (P, i) => (P.queue || [])[i]},
            {label: 'in flight', color: 'var(--inflight)', get: (P, i) => (P.in_flight || [])[i]}]}];
        function ms(v) { return v == null ? null : v * 1000; }
        function pct(v) { return v == null ? null : v * 100; }
        const COLUMNS = ['backend', 'tier', 'state', 'weight', 'in flight', 'requests', 'checks', 'latency', 'actions'];
        function clusterView(name) {
          let v = views.get(name);
          if (v) return v;
          const root = el('section', {class: 'cluster', 'data-cluster': name});
          const title = el('h2', {}, name, ' ', el('span', {class: 'meta'}));
          const banner = el('div', {class: 'banner unknown', 'data-state': 'unknown'});
          const charts = el('div', {class: 'charts'});
          const plots = {};
          for (const spec of CHARTS) {
            const caption = el('figcaption', {}, el('span', {class: 'title'}, spec.title));
            const keys = spec.series.map(s => { const k = el('span', {class: 'key', style: '--c:' + s.color}); caption.append(k); return k; });
            const plot = svg('svg', {class: 'plot', 'data-chart': spec.key, role: 'img', 'aria-label': spec.title});
            charts.append(el('figure', {class: 'chart'}, caption, plot));
            plots[spec.key] = {plot: plot, keys: keys};
          }
          const body = el('tbody');
          const table = el('table', {class: 'backends'}, el('thead', {}, el('tr', {}, ...COLUMNS.map(c => el('th', {}, c)))), body);
          root.append(title, banner, charts, table);
          v = {root: root, meta: title.lastChild, banner: banner, plots: plots, body: body, rows: new Map()};
          views.set(name, v);
          return v;
        }
        function backendRow(v, cluster, name) {
          let r = v.rows.get(name);
          if (r) return r;
          const cells = {};
          const tr = el('tr', {'data-backend': name});
          for (const c of COLUMNS) tr.append(cells[c] = el('td', {'data-label': c}));
          cells.backend.className = 'name';
          cells.tier.className = 'tier';
          const spark = svg('svg', {class: 'spark', viewBox: '0 0 120 28', 'data-sparkline': name});
          const sparkValue = el('span', {class: 'spark-value'});
          cells.latency.append(spark, sparkValue);
          const actions = el('div', {class: 'actions'});
          for (const a of ['drain', 'disable', 'enable']) {
            const b = el('button', {type: 'button', 'data-action': a}, a);
            b.addEventListener('click', () => act(cluster, name, a));
            actions.append(b);
          }
          const weight = el('input', {class: 'weight', type: 'number', min: 0, max: 10000, 'aria-label': 'weight'});
          const set = el('button', {type: 'button', 'data-action': 'weight'}, 'set weight');
          set.addEventListener('click', () => act(cluster, name, 'weight', weight.value));
          actions.append(weight, set);
          cells.actions.className = 'actions-cell';
          cells.actions.append(actions);
          r = {tr: tr, cells: cells, spark: spark, sparkValue: sparkValue, weight: weight};
          v.rows.set(name, r);
          return r;
        }
        function trafficText(tr) {
          if (!tr) return ['unknown', 'no traffic data yet'];
          const eta = tr.eta_seconds == null ? 'no saturation ahead' : `saturation in ${fmt(tr.eta_seconds)} s`;
          const cap = tr.capacity == null ? '' : ` · capacity ${fmt(tr.capacity)}/s`;
          return [tr.state || 'unknown',
            `${fmt(tr.rate_10s)} req/s over 10 s against ${fmt(tr.rate_10m)} ± ${fmt(tr.deviation)} over 10 min${cap} · ${eta}`];
        }
        function render() {
          const s = model.status, names = [];
          if (s) for (const c of s.clusters) names.push(c.name);
          for (const name of model.clusters.keys()) if (!names.includes(name)) names.push(name);
          const main = document.getElementById('clusters');
          for (const [name, v] of views) if (!names.includes(name)) { v.root.remove(); views.delete(name); }
          names.forEach((name, idx) => {
            const v = clusterView(name);
            if (main.children[idx] !== v.root) main.insertBefore(v.root, main.children[idx] || null);
            renderCluster(v, name, model.clusters.get(name), s && s.clusters.find(c => c.name === name));
          });
          renderEvents();
        }
        function renderCluster(v, name, h, sc) {
          const P = h ? h.points : {t: []}, t = P.t, n = t.length;
          const t1 = n ? t[n - 1] : (model.now || Date.now() / 1000);
          // From the first second kept (at most 15 minutes back), and never less than a minute wide.
          const t0 = Math.min(t1 - 60, Math.max(n ? t[0] : t1, t1 - (KEEP - 1)));
          let i0 = 0;
          while (i0 < n && t[i0] < t0) i0++;
          const win = {t0: t0, t1: t1, i0: i0};
          const events = model.events.filter(e => !e.cluster || e.cluster === name);
          for (const spec of CHARTS) {
            const {plot, keys} = v.plots[spec.key];
            const lasts = drawChart(plot, spec, P, win, events);
            spec.series.forEach((s, k) => { keys[k].textContent = `${s.label} ${fmt(lasts[k])}`; });
          }
          const [state, text] = trafficText(h && h.traffic);
          v.banner.className = 'banner ' + state;
          v.banner.dataset.state = state;
          v.banner.replaceChildren(el('b', {}, state), text);
          const parts = [];
          if (sc) {
            parts.push(sc.balance, `standby share ${(sc.standby_share * 100).toFixed(1)}%`, `queue ${sc.queue_depth}`);
            if (sc.cache) parts.push(cacheText(sc));
            if (sc.all_down) parts.push('no healthy backend');
          }
          v.meta.textContent = parts.join(' · ');
          const names = [];
          if (sc) for (const b of sc.backends) names.push(b.name);
          if (h) for (const b of h.backends.keys()) if (!names.includes(b)) names.push(b);
          for (const [b, r] of v.rows) if (!names.includes(b)) { r.tr.remove(); v.rows.delete(b); }
          names.forEach((b, idx) => {
            const r = backendRow(v, name, b);
            if (v.body.children[idx] !== r.tr) v.body.insertBefore(r.tr, v.body.children[idx] || null);
            renderBackend(r, b, h && h.backends.get(b), sc && sc.backends.find(x => x.name === b), P, win);
          });
        }
        function renderBackend(r, name, hb, sb, P, win) {
          const c = r.cells, live = sb || {};
          const state = live.state || (hb && hb.state) || 'unknown';
          const tier = live.tier || (hb && hb.tier) || '';
          c.backend.replaceChildren(name, el('small', {}, live.address || (hb && hb.address) || ''));
          // Where it came from, for runtime backends (dns, srv, file, api): text only.
          const source = live.source && live.source !== 'config' ? live.source : '';
          c.tier.replaceChildren(tier, source ? el('small', {class: 'source'}, source) : '');
          r.tr.className = tier;
          r.tr.dataset.state = state;
          c.state.replaceChildren(el('span', {class: 'state ' + state}, state));
          const w = sb ? sb.weight : hb && hb.weight;
          c.weight.textContent = sb && sb.effective_weight !== sb.weight ? `${w} (now ${sb.effective_weight})` : String(w == null ? '–' : w);
          if (document.activeElement !== r.weight && w != null) r.weight.placeholder = String(w);
          c['in flight'].textContent = String(sb ? sb.active_requests : hb && hb.in_flight != null ? hb.in_flight : '–');
          c.requests.textContent = sb ? fmt(sb.requests_total) : '–';
          c.checks.textContent = sb && sb.health_checks ? `${sb.health_checks.passed} ok / ${sb.health_checks.failed} failed` : '–';
          const sp = drawSpark(r.spark, hb ? hb.points : {}, P, win);
          r.sparkValue.textContent = sp.last == null ? 'no data' : `${sp.what} ${fmt(sp.last * 1000)} ms`;
        }
        function cacheText(sc) {
          const prev = model.prev && model.prev.clusters.find(x => x.name === sc.name);
          const kinds = ['hit', 'miss', 'stale', 'revalidated', 'coalesced', 'bypass'];
          const served = (k, p) => (sc.cache[k] || 0) - (p && p.cache ? (p.cache[k] || 0) : 0);
          const ratio = p => { const all = kinds.reduce((a, k) => a + served(k, p), 0); return all > 0 ? ((served('hit', p) + served('stale', p)) / all * 100).toFixed(1) + '%' : '–'; };
          const mem = model.status.cache ? `, ${model.status.cache.objects} objects, ${(model.status.cache.bytes / 1048576).toFixed(1)} MiB` : '';
          return `cache hit ratio ${prev ? ratio(prev) : '–'} now, ${ratio(null)} since start${mem}`;
        }
        function renderEvents() {
          const list = document.getElementById('events');
          if (!model.events.length) return;
          const items = model.events.slice(-60).reverse().map(e => el('li', {'data-kind': e.kind},
            el('time', {datetime: new Date(e.t * 1000).toISOString()}, clock(e.t)),
            el('span', {class: 'kind ' + e.kind}, e.kind),
            el('span', {class: 'meta'}, [e.cluster, e.backend].filter(x => x != null).join(' / ') || 'process'),
            el('span', {class: 'text'}, e.text)));
          list.replaceChildren(...items);
        }
        function renderMeta() {
          const s = model.status;
          if (!s) return;
          const lr = s.config.last_reload;
          document.getElementById('meta').textContent = `config ${s.config.path} · generation ${s.config.generation} · last reload ${lr.result} at ${lr.at}` +
            (lr.errors.length ? ` (${lr.errors.length} errors: ${lr.errors[0]})` : '') + ` · ${s.workers} workers · up ${s.uptime_seconds} s · updated ${clock(Date.now() / 1000)}`;
          document.getElementById('listeners').textContent = 'listeners: ' + s.listeners.map(l => `${l.name} ${l.listen}${l.tls ? ' (TLS)' : ''}, ${l.connections_active} connections`).join(' · ');
        }
        function token() { return sessionStorage.getItem('sluice-admin-token'); }
        async function act(cluster, backend, action, body) {
          const url = `/clusters/${encodeURIComponent(cluster)}/backends/${encodeURIComponent(backend)}/${action}`;
          const send = () => fetch(url, {method: action === 'weight' ? 'PUT' : 'POST', body: body == null ? undefined : String(body),
            headers: token() ? {Authorization: 'Bearer ' + token()} : {}});
          try {
            let r = await send();
            if (r.status === 401) {
              const t = prompt('This admin API needs its token (admin.token_file). Token:');
              if (t) { sessionStorage.setItem('sluice-admin-token', t.trim()); r = await send(); }
            }
            const text = (await r.text()).trim();
            notice(r.ok ? text : `${action} ${cluster}/${backend}: ${r.status} ${text}`, !r.ok);
            if (r.status === 401) sessionStorage.removeItem('sluice-admin-token');
          } catch (e) {
            notice(`${action} ${cluster}/${backend}: ${e.message}`, true);
          }
          await refreshStatus();
          render();
        }
        async function refreshStatus() {
          const s = await getJSON('/status');
          model.prev = model.status;
          model.status = s;
          renderMeta();
        }
        let historyError = null;
        async function refreshHistory(first) {
          try {
            const q = first || model.lastT == null ? 'seconds=900' : 'since=' + model.lastT;
            mergeHistory(await getJSON('/history?' + q), first);
            historyError = null;
          } catch (e) {
            historyError = 'history unavailable (' + e.message + ')';
          }
        }
        let failing = false;
        async function poll(first) {
          const started = Date.now();
          try {
            await Promise.all([refreshStatus(), refreshHistory(first)]);
            if (failing || historyError) notice(historyError || '', !!historyError);
            failing = false;
          } catch (e) {
            failing = true;
            notice('admin API unreachable (' + e.message + '); retrying every 2 s', true);
          }
          render();
          setTimeout(poll, Math.max(200, POLL_MS - (Date.now() - started)), false);
        }
        let resizing = null;
        window.addEventListener('resize', () => { clearTimeout(resizing); resizing = setTimeout(render, 150); });
        poll(true);
        """#
}

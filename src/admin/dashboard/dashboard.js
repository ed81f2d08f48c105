// Floodgate's live dashboard: one card per region, fed by the admin port's event stream.
// Everything is written with textContent, never innerHTML, because region names and upstream URLs
// come from a config file and should never be able to inject markup.
(() => {
  const WINDOW_SECONDS = 300;
  const CHART_HEIGHT = 96;
  const CONFIG_POLL_MS = 5000;
  const COLORS = {
    admitted: '#3b9eff',
    shed: '#e5484d',
    current: '#f5a524',
    baseline: '#8a96a3',
    surge: '#ff4dcf',
    axis: '#8a96a3',
    grid: '#222b35',
  };

  const main = document.getElementById('regions');
  const template = document.getElementById('region-card');
  const cards = new Map();

  function field(root, name) {
    return root.querySelector(`[data-field="${name}"]`);
  }

  function fmt(n) {
    if (!Number.isFinite(n)) return '0';
    return n >= 100 ? n.toFixed(0) : n.toFixed(1);
  }

  function axes() {
    const axis = {
      stroke: COLORS.axis,
      grid: { stroke: COLORS.grid, width: 1 },
      ticks: { stroke: COLORS.grid },
    };
    return [
      { ...axis, size: 26, font: '10px system-ui' },
      { ...axis, size: 38, font: '10px system-ui' },
    ];
  }

  function makeChart(target, title, series) {
    const options = {
      title,
      width: Math.max(200, target.clientWidth || 380),
      height: CHART_HEIGHT,
      legend: { show: false },
      cursor: { show: false },
      scales: {
        // At least a minute, at most five: the first seconds are not stretched across the whole axis.
        x: {
          time: true,
          range: (_u, min, max) => [max - Math.min(WINDOW_SECONDS, Math.max(60, max - min)), max],
        },
        y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
      },
      axes: axes(),
      series: [{}, ...series.map((s) => ({ points: { show: false }, ...s }))],
    };
    const data = [[], ...series.map(() => [])];
    return new uPlot(options, data, target);
  }

  function createCard(name) {
    const root = template.content.firstElementChild.cloneNode(true);
    root.dataset.region = name;
    for (const el of root.querySelectorAll('[data-field]')) el.dataset.region = name;
    field(root, 'name').textContent = name;
    main.appendChild(root);
    const card = {
      root,
      history: { t: [], admitted: [], shed: [], current: [], baseline: [], surge: [] },
      previous: null,
      traffic: makeChart(field(root, 'chart-traffic'), 'admitted vs shed rps', [
        { label: 'admitted', stroke: COLORS.admitted, width: 1.5 },
        { label: 'shed', stroke: COLORS.shed, width: 1.5, fill: 'rgba(229,72,77,0.18)' },
      ]),
      surge: makeChart(field(root, 'chart-surge'), 'current vs baseline rps', [
        { label: 'current', stroke: COLORS.current, width: 1.5 },
        { label: 'baseline', stroke: COLORS.baseline, width: 1.5, dash: [4, 3] },
        { label: 'surging', stroke: COLORS.surge, width: 4, spanGaps: false },
      ]),
    };
    cards.set(name, card);
    return card;
  }

  function removeCard(name) {
    const card = cards.get(name);
    card.traffic.destroy();
    card.surge.destroy();
    card.root.remove();
    cards.delete(name);
  }

  function setBar(el, value, max, lowIsBad) {
    const share = max > 0 ? Math.min(1, Math.max(0, value / max)) : 0;
    el.style.width = `${(share * 100).toFixed(1)}%`;
    const danger = lowIsBad ? share < 0.2 : share > 0.9;
    const caution = lowIsBad ? share < 0.5 : share > 0.7;
    el.classList.toggle('low', danger);
    el.classList.toggle('mid', !danger && caution);
  }

  // The view carries cumulative counts; rates by reason and priority come from the change since the
  // previous event. A count lower than before means the region was recreated, so it counts from zero.
  function shedRates(shed, previous, seconds) {
    const byReason = {};
    const byPriority = {};
    if (previous === null || seconds <= 0) return { byReason, byPriority };
    for (const [reason, priorities] of Object.entries(shed)) {
      for (const [priority, count] of Object.entries(priorities)) {
        const before = previous.shed[reason]?.[priority] ?? 0;
        const delta = count >= before ? count - before : count;
        if (delta === 0) continue;
        byReason[reason] = (byReason[reason] ?? 0) + delta / seconds;
        if (!reason.startsWith('would-shed:'))
          byPriority[priority] = (byPriority[priority] ?? 0) + delta / seconds;
      }
    }
    return { byReason, byPriority };
  }

  function outcomeRates(outcomes, previous, seconds) {
    const rates = {};
    if (previous === null || seconds <= 0) return rates;
    for (const [outcome, count] of Object.entries(outcomes)) {
      const before = previous.outcomes[outcome] ?? 0;
      const delta = count >= before ? count - before : count;
      if (delta > 0) rates[outcome] = delta / seconds;
    }
    return rates;
  }

  function describeRates(rates) {
    const entries = Object.entries(rates).sort((a, b) => b[1] - a[1]);
    if (entries.length === 0) return 'none';
    return entries.map(([key, rps]) => `${key} ${fmt(rps)}/s`).join(' · ');
  }

  function renderUpstreams(el, upstreams) {
    el.replaceChildren();
    upstreams.forEach((u, i) => {
      if (i > 0) el.append(', ');
      const span = document.createElement('span');
      span.textContent = `${u.url.replace(/^https?:\/\//, '')} (${u.inflight})`;
      if (u.ejected) {
        span.className = 'ejected';
        span.title = 'ejected';
      }
      el.append(span);
    });
  }

  function pushHistory(card, at, r) {
    const h = card.history;
    h.t.push(at / 1000);
    h.admitted.push(r.admittedRps);
    h.shed.push(r.shedRps);
    h.current.push(r.currentRps);
    h.baseline.push(r.baselineRps);
    h.surge.push(r.surging ? r.currentRps : null);
    const oldest = at / 1000 - WINDOW_SECONDS;
    while (h.t.length > 0 && h.t[0] < oldest) {
      for (const series of Object.values(h)) series.shift();
    }
    card.traffic.setData([h.t, h.admitted, h.shed]);
    card.surge.setData([h.t, h.current, h.baseline, h.surge]);
  }

  function renderCard(card, at, r, hot) {
    const root = card.root;
    const breaker = field(root, 'breaker');
    breaker.textContent = r.breaker;
    breaker.className = `breaker ${r.breaker}`;
    root.dataset.breaker = r.breaker;
    root.classList.toggle('hot', hot !== null);
    root.classList.toggle('shedding', r.shedRps > 0);
    const hotLabel = field(root, 'hot');
    hotLabel.hidden = hot === null;
    const hotReason = field(root, 'hot-reason');
    hotReason.hidden = hot === null;
    hotReason.textContent = hot ?? '';
    field(root, 'surge').hidden = !r.surging;

    field(root, 'tokens').textContent = `${fmt(r.tokens)} / ${r.burst}`;
    setBar(field(root, 'tokens-bar'), r.tokens, r.burst, true);
    field(root, 'inflight').textContent = `${r.inflight} / ${r.inflightLimit}`;
    setBar(field(root, 'inflight-bar'), r.inflight, r.inflightLimit, false);

    field(root, 'admitted-rps').textContent = fmt(r.admittedRps);
    field(root, 'shed-rps').textContent = fmt(r.shedRps);
    field(root, 'current-rps').textContent = fmt(r.currentRps);
    field(root, 'baseline-rps').textContent = fmt(r.baselineRps);
    field(root, 'p50').textContent = fmt(r.p50Ms);
    field(root, 'p99').textContent = fmt(r.p99Ms);

    const seconds = card.previous === null ? 0 : (at - card.previous.at) / 1000;
    const rates = shedRates(r.shed, card.previous, seconds);
    field(root, 'shed-by-reason').textContent = describeRates(rates.byReason);
    field(root, 'shed-by-priority').textContent = describeRates(rates.byPriority);
    field(root, 'outcomes').textContent = describeRates(outcomeRates(r.outcomes, card.previous, seconds));
    card.previous = { at, shed: r.shed, outcomes: r.outcomes };
    renderUpstreams(field(root, 'upstreams'), r.upstreams);
    pushHistory(card, at, r);
  }

  function heat(r) {
    return (r.breaker === 'open' ? 4 : r.breaker === 'half-open' ? 2 : 0) + (r.surging ? 3 : 0);
  }

  // A region is hot when its breaker is not closed, when it surges, or when it sheds the most.
  function hotReasons(regions) {
    let topShedder = null;
    for (const [name, r] of Object.entries(regions)) {
      if (r.shedRps > 0 && (topShedder === null || r.shedRps > regions[topShedder].shedRps))
        topShedder = name;
    }
    const reasons = new Map();
    for (const [name, r] of Object.entries(regions)) {
      const why = [];
      if (r.breaker !== 'closed') why.push(`breaker ${r.breaker}`);
      if (r.surging) why.push('surging');
      if (name === topShedder) why.push('shedding most');
      reasons.set(name, why.length > 0 ? why.join(', ') : null);
    }
    return reasons;
  }

  function order(regions) {
    return Object.keys(regions).sort((a, b) => {
      const ra = regions[a];
      const rb = regions[b];
      return heat(rb) - heat(ra) || rb.shedRps - ra.shedRps || a.localeCompare(b);
    });
  }

  function update(message) {
    const { at, regions } = message;
    for (const name of [...cards.keys()]) if (!(name in regions)) removeCard(name);
    const hot = hotReasons(regions);
    const names = order(regions);
    const before = cards.size;
    for (const name of names) {
      const card = cards.get(name) ?? createCard(name);
      renderCard(card, at, regions[name], hot.get(name));
    }
    // New cards change the grid, so every chart takes its column's width again.
    if (cards.size !== before) resizeCharts();
    const current = [...main.querySelectorAll(':scope > .region')].map((el) => el.dataset.region);
    if (current.join('\n') !== names.join('\n')) {
      for (const name of names) main.appendChild(cards.get(name).root);
    }
    field(document, 'empty').hidden = names.length > 0;
    field(document, 'updated-at').textContent = new Date(at).toLocaleTimeString();
  }

  function setConnection(state) {
    const el = field(document, 'connection');
    el.textContent = state;
    el.className = `conn ${state === 'live' ? 'live' : 'down'}`;
  }

  async function pollConfig() {
    try {
      const res = await fetch('/admin/config', { cache: 'no-store' });
      const info = await res.json();
      field(document, 'config-version').textContent = String(info.version);
      const error = field(document, 'config-error');
      error.hidden = info.lastError === null;
      error.textContent = info.lastError === null ? '' : `last reload failed: ${info.lastError}`;
    } catch {
      // the event stream's status already tells the reader the admin port is unreachable
    }
  }

  function resizeCharts() {
    for (const card of cards.values()) {
      for (const chart of [card.traffic, card.surge]) {
        const width = chart.root.parentElement.clientWidth;
        if (width > 0) chart.setSize({ width, height: CHART_HEIGHT });
      }
    }
  }

  const events = new EventSource('/admin/events');
  events.addEventListener('open', () => setConnection('live'));
  events.addEventListener('error', () => setConnection('reconnecting'));
  events.addEventListener('regions', (event) => update(JSON.parse(event.data)));
  window.addEventListener('resize', resizeCharts);
  pollConfig();
  setInterval(pollConfig, CONFIG_POLL_MS);
})();

// Floodgate's live dashboard: one card per region, fed by the admin port's event stream.
// Everything is written with textContent, never innerHTML, because region names and upstream URLs
// come from a config file and should never be able to inject markup.
(() => {
  const CONFIG_POLL_MS = 5000;
  const { RegionCharts } = window.FloodgateCharts;

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

  function createCard(name) {
    const root = template.content.firstElementChild.cloneNode(true);
    root.dataset.region = name;
    for (const el of root.querySelectorAll('[data-field]')) el.dataset.region = name;
    field(root, 'name').textContent = name;
    main.appendChild(root);
    const card = {
      root,
      previous: null,
      // The newest sample: the upstream 5xx rate and the shed share are computed by the admin port.
      sample: null,
      charts: new RegionCharts((name) => field(root, name)),
    };
    cards.set(name, card);
    return card;
  }

  function removeCard(name) {
    const card = cards.get(name);
    card.charts.destroy();
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

  function percentText(share) {
    return `${(share * 100).toFixed(share > 0 && share < 0.1 ? 1 : 0)}%`;
  }

  function renderSample(root, s) {
    field(root, 'shed-share').textContent = s === null ? '' : percentText(s.shedShare);
    field(root, 'upstream-5xx').textContent = s === null ? '0' : fmt(s.upstream5xxRps);
    field(root, 'upstream-5xx-share').textContent = s === null ? '' : percentText(s.upstream5xxShare);
    root.classList.toggle('failing', s !== null && s.upstream5xxRps > 0);
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
    // Configured limits are usually whole numbers; show them as written in the config.
    field(root, 'limit-rps').textContent = Number.isInteger(r.rps) ? String(r.rps) : fmt(r.rps);
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
    renderSample(root, card.sample);
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

  // The kept samples, sent first whenever the stream (re)connects: the charts start from them.
  function loadHistory(message) {
    for (const card of cards.values()) card.charts.clear();
    for (const point of message.points) {
      for (const [name, sample] of Object.entries(point.regions)) {
        const card = cards.get(name) ?? createCard(name);
        card.charts.append(point.at, sample);
        card.sample = sample;
      }
    }
    for (const card of cards.values()) card.charts.redraw();
    main.dataset.historyPoints = String(message.points.length);
    resizeCharts();
  }

  function update(message) {
    const { at, regions, sample } = message;
    for (const name of [...cards.keys()]) if (!(name in regions)) removeCard(name);
    const hot = hotReasons(regions);
    const names = order(regions);
    const before = cards.size;
    for (const name of names) {
      const card = cards.get(name) ?? createCard(name);
      // Only the timer's frames carry a sample; the one sent on connect shows the state now.
      if (sample?.[name] !== undefined) {
        card.sample = sample[name];
        card.charts.append(at, card.sample);
        card.charts.redraw();
      }
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
    for (const card of cards.values()) card.charts.resize();
  }

  const events = new EventSource('/admin/events');
  events.addEventListener('open', () => setConnection('live'));
  events.addEventListener('error', () => setConnection('reconnecting'));
  events.addEventListener('history', (event) => loadHistory(JSON.parse(event.data)));
  events.addEventListener('regions', (event) => update(JSON.parse(event.data)));
  window.addEventListener('resize', resizeCharts);
  pollConfig();
  setInterval(pollConfig, CONFIG_POLL_MS);
})();

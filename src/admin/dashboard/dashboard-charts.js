// The dashboard's charts: three uPlot charts per region card and the samples they draw. The admin
// port keeps the last five minutes of samples and sends them when the page connects, then one
// sample a second; this file only keeps and draws them.
(() => {
  const WINDOW_SECONDS = 300;
  const CHART_HEIGHT = 96;
  const COLORS = {
    admitted: '#3b9eff',
    shed: '#e5484d',
    limit: '#d8dee6',
    current: '#f5a524',
    baseline: '#8a96a3',
    surge: '#ff4dcf',
    upstream5xx: '#b07cff',
    axis: '#8a96a3',
    grid: '#222b35',
  };
  const SERIES = ['admitted', 'shed', 'limit', 'current', 'baseline', 'surge', 'shedPct', 'errorPct'];

  function axes() {
    const axis = {
      stroke: COLORS.axis,
      grid: { stroke: COLORS.grid, width: 1 },
      ticks: { stroke: COLORS.grid },
    };
    return [
      { ...axis, size: 26, font: '10px system-ui' },
      { ...axis, size: 44, font: '10px system-ui' },
    ];
  }

  function makeChart(target, title, series, yRange) {
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
        y: { range: yRange ?? ((_u, _min, max) => [0, Math.max(1, max * 1.1)]) },
      },
      axes: axes(),
      series: [{}, ...series.map((s) => ({ points: { show: false }, ...s }))],
    };
    return new uPlot(options, [[], ...series.map(() => [])], target);
  }

  function percent(share) {
    return Math.round(share * 1000) / 10;
  }

  class RegionCharts {
    constructor(field) {
      this.field = field;
      this.clear();
      this.traffic = makeChart(field('chart-traffic'), 'admitted vs shed rps, and the configured limit', [
        { label: 'admitted', stroke: COLORS.admitted, width: 1.5 },
        { label: 'shed', stroke: COLORS.shed, width: 1.5, fill: 'rgba(229,72,77,0.18)' },
        { label: 'limit', stroke: COLORS.limit, width: 1, dash: [6, 4] },
      ]);
      this.surge = makeChart(field('chart-surge'), 'current vs baseline rps', [
        { label: 'current', stroke: COLORS.current, width: 1.5 },
        { label: 'baseline', stroke: COLORS.baseline, width: 1.5, dash: [4, 3] },
        { label: 'surging', stroke: COLORS.surge, width: 4, spanGaps: false },
      ]);
      this.errors = makeChart(
        field('chart-errors'),
        '% shed of offered · % upstream 5xx',
        [
          { label: 'shed %', stroke: COLORS.shed, width: 1.5 },
          { label: 'upstream 5xx %', stroke: COLORS.upstream5xx, width: 1.5 },
        ],
        () => [0, 100],
      );
    }

    /** Forgets every sample: the stream sends the whole history again when it reconnects. */
    clear() {
      this.samples = { t: [] };
      for (const name of SERIES) this.samples[name] = [];
    }

    append(at, s) {
      const h = this.samples;
      h.t.push(at / 1000);
      h.admitted.push(s.admittedRps);
      h.shed.push(s.shedRps);
      h.limit.push(s.limitRps);
      h.current.push(s.currentRps);
      h.baseline.push(s.baselineRps);
      h.surge.push(s.surging ? s.currentRps : null);
      h.shedPct.push(percent(s.shedShare));
      h.errorPct.push(percent(s.upstream5xxShare));
      const oldest = at / 1000 - WINDOW_SECONDS;
      while (h.t.length > 0 && h.t[0] < oldest) {
        for (const series of Object.values(h)) series.shift();
      }
    }

    redraw() {
      const h = this.samples;
      this.traffic.setData([h.t, h.admitted, h.shed, h.limit]);
      this.surge.setData([h.t, h.current, h.baseline, h.surge]);
      this.errors.setData([h.t, h.shedPct, h.errorPct]);
      // For the browser test and for anyone inspecting the page: how many samples are drawn.
      for (const name of ['chart-traffic', 'chart-surge', 'chart-errors']) {
        this.field(name).dataset.points = String(h.t.length);
      }
    }

    resize() {
      for (const chart of [this.traffic, this.surge, this.errors]) {
        const width = chart.root.parentElement.clientWidth;
        if (width > 0) chart.setSize({ width, height: CHART_HEIGHT });
      }
    }

    destroy() {
      this.traffic.destroy();
      this.surge.destroy();
      this.errors.destroy();
    }
  }

  window.FloodgateCharts = { RegionCharts };
})();

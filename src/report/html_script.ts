// The script inside the HTML report: it reads the chart specs that html.ts
// computed (a JSON block, id "mmrace-charts") and draws each with uPlot, then
// leaves a verification hook on <body> for headless tests:
//   data-charts   charts it tried to draw (a spec with `empty` is a text line, not a chart)
//   data-painted  charts whose canvas holds coloured (series) pixels, read back with getImageData
//   data-error    every exception, thrown or reported to window.onerror, '; '-joined
// Plain ES2017 in a string: it runs in the browser as written, with no
// bundler, and must not contain a backtick or a dollar-brace.
export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var body = document.body;
  var errors = [];
  var plots = [];
  var tried = 0;
  var PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

  function fail(where, e) {
    errors.push(where + ': ' + (e && e.message ? e.message : String(e)));
    body.setAttribute('data-error', errors.join('; '));
  }
  // uPlot paints in a microtask: an exception there reaches only window.onerror
  window.addEventListener('error', function (ev) { fail('window', ev.error || ev.message); });

  function compact(v) {
    if (v == null || !isFinite(v)) return '-';
    var a = Math.abs(v);
    if (a >= 1e9) return +(v / 1e9).toPrecision(3) + 'G';
    if (a >= 1e6) return +(v / 1e6).toPrecision(3) + 'M';
    if (a >= 1e4) return +(v / 1e3).toPrecision(3) + 'k';
    return String(+v.toPrecision(4));
  }
  function percentile(x) { return +(100 * (1 - Math.pow(10, -x))).toPrecision(6); }

  function x_name(spec, v) {
    if (spec.x_names) return spec.x_names[Math.round(v)] || '-';
    if (spec.x_format === 'percentile') return 'p' + percentile(v);
    return compact(v);
  }
  // With the cursor off the plot uPlot asks for a value with no data index: the
  // legend then shows each series' peak and where it is, instead of a blank.
  function x_value(spec) {
    return function (u, v, sidx, idx) {
      if (idx == null) return 'peak';
      return v == null ? '-' : x_name(spec, v);
    };
  }
  function peak(spec, s) {
    var at = -1;
    s.values.forEach(function (v, i) { if (v != null && isFinite(v) && (at < 0 || v > s.values[at])) at = i; });
    return at < 0 ? '-' : compact(s.values[at]) + ' at ' + x_name(spec, spec.x[at]);
  }

  function shade(spec) {
    return function (u) {
      if (spec.shade_from == null) return;
      var left = Math.max(u.bbox.left, u.valToPos(spec.shade_from, 'x', true));
      var right = u.bbox.left + u.bbox.width;
      if (right <= left) return;
      var ctx = u.ctx;
      ctx.save();
      ctx.fillStyle = 'rgba(128, 128, 128, 0.12)';
      ctx.fillRect(left, u.bbox.top, right - left, u.bbox.height);
      if (spec.shade_label) {
        ctx.fillStyle = '#555';
        ctx.font = Math.round(12 * devicePixelRatio) + 'px system-ui, sans-serif';
        ctx.textAlign = 'right';
        ctx.fillText(spec.shade_label, right - 6 * devicePixelRatio, u.bbox.top + u.bbox.height - 8 * devicePixelRatio);
      }
      ctx.restore();
    };
  }

  function options(spec, width) {
    var bars = spec.series.some(function (s) { return s.bars; });
    var ticks = spec.x_ticks;
    var right_pad = null;
    var x_axis = { label: spec.x_label, stroke: '#333', grid: { stroke: '#eee' } };
    if (ticks) {
      x_axis.splits = function () { return ticks.map(function (t) { return t.at; }); };
      x_axis.values = function () { return ticks.map(function (t) { return t.label; }); };
      // category names slant when they would not fit side by side (about 7 px a character)
      var longest = Math.max.apply(null, ticks.map(function (t) { return t.label.length; }));
      if (longest * 7 > (width - 150) / ticks.length) {
        x_axis.rotate = -28; // slanting down to the right from the tick
        x_axis.size = 24 + longest * 3.4;
        right_pad = Math.min(180, ticks[ticks.length - 1].label.length * 6);
      }
    }
    var y_range = spec.y_log ? undefined : function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; };
    var scales = { x: { time: false }, y: { distr: spec.y_log ? 3 : 1, range: y_range } };
    if (spec.x_range) scales.x.range = function () { return spec.x_range.slice(); };
    var axes = [x_axis, { scale: 'y', label: spec.y_label, size: 64, stroke: '#333', grid: { stroke: '#eee' },
      values: function (u, vals) { return vals.map(compact); } }];
    if (spec.y2_label) {
      scales.y2 = { range: function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; } };
      axes.push({ scale: 'y2', side: 1, label: spec.y2_label, size: 64, stroke: '#333', grid: { show: false },
        values: function (u, vals) { return vals.map(compact); } });
    }
    var series = [{ label: spec.x_label, value: x_value(spec) }];
    spec.series.forEach(function (s, i) {
      var color = PALETTE[i % PALETTE.length];
      var top = peak(spec, s);
      var out = { label: s.label, scale: s.scale || 'y', stroke: color, width: s.bars ? 1 : 2, spanGaps: true,
        value: function (u, v, sidx, idx) { return idx == null ? top : compact(v); } };
      if (s.dash) out.dash = [6, 5];
      if (s.bars) {
        out.fill = color + 'bb';
        out.paths = uPlot.paths.bars({ size: [0.88, 90], align: 0 });
        out.points = { show: false };
      } else {
        out.points = { show: true, size: 6, fill: color };
      }
      series.push(out);
    });
    return {
      title: spec.title, width: width, height: 320, padding: [null, right_pad, null, null], scales: scales, axes: axes, series: series,
      legend: { show: true, live: true },
      cursor: { drag: { x: !bars, y: false } },
      hooks: { drawClear: [shade(spec)] },
    };
  }

  function draw(spec) {
    var box = document.getElementById(spec.id);
    if (!box) throw new Error('no container #' + spec.id);
    if (spec.empty) {
      var p = document.createElement('p');
      p.className = 'nodata';
      p.textContent = spec.title + ': ' + spec.empty;
      box.appendChild(p);
      return;
    }
    tried++;
    var width = Math.max(420, Math.min(1100, box.clientWidth || 900));
    var data = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
    var u = new uPlot(options(spec, width), data, box);
    plots.push(u);
    if (spec.note) {
      var n = document.createElement('p');
      n.className = 'note';
      n.textContent = spec.note;
      box.appendChild(n);
    }
  }

  // a series colour is saturated; the background, grid, axes and text are grey or transparent
  function painted(u) {
    var c = u.ctx.canvas;
    if (!c.width || !c.height) return false;
    var px = u.ctx.getImageData(0, 0, c.width, c.height).data;
    var coloured = 0;
    for (var i = 0; i < px.length; i += 4) {
      if (px[i + 3] < 64) continue;
      var hi = Math.max(px[i], px[i + 1], px[i + 2]), lo = Math.min(px[i], px[i + 1], px[i + 2]);
      if (hi - lo > 40 && ++coloured >= 20) return true;
    }
    return false;
  }

  try {
    var specs = JSON.parse(document.getElementById('mmrace-charts').textContent);
    specs.forEach(function (s) { try { draw(s); } catch (e) { fail(s.id, e); } });
  } catch (e) {
    fail('charts', e);
  }
  body.setAttribute('data-charts', String(tried));

  setTimeout(function () {
    var n = 0;
    plots.forEach(function (u) { try { if (painted(u)) n++; } catch (e) { fail('painted', e); } });
    body.setAttribute('data-painted', String(n));
  }, 0);

  var last = window.innerWidth;
  window.addEventListener('resize', function () {
    if (window.innerWidth === last) return;
    last = window.innerWidth;
    plots.forEach(function (u) {
      var w = Math.max(420, Math.min(1100, u.root.parentNode.clientWidth || 900));
      u.setSize({ width: w, height: 320 });
    });
  });
})();
`;

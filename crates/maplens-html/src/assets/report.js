// maplens HTML report: draws the tables and pictures from the JSON block.
// Text from the target only ever goes into textContent, title and SVG
// <title> text: nothing here parses markup.
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('data').textContent);
  var R = D.regions, S = D.strings, REP = D.report, N = R.start.length;
  var SVGNS = 'http://www.w3.org/2000/svg';
  var COLORS = {
    'code': '#4e79a7', 'read-only-data': '#7fa7cf', 'relro': '#a9c6e4',
    'writable-data': '#f28e2b', 'bss': '#ffbe7d', 'heap': '#e15759',
    'malloc-arena': '#ff9d9a', 'thread-stack': '#59a14f', 'main-stack': '#8cd17d',
    'guard-page': '#a39b95', 'reservation': '#cfc9c3', 'linker-gap': '#e2ddd8',
    'anon-mmap': '#b07aa1', 'named-anon': '#d4a6c8', 'shared-memory': '#9d7660',
    'mapped-file': '#edc948', 'device': '#499894', 'kernel': '#86bcb6',
    'hugetlb': '#f1ce63', 'writable-exec': '#d37295', 'managed-heap': '#bc4b51',
    'jit-code': '#c9a227'
  };

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function human(b) {
    if (b == null) return '-';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'], i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (i === 0 || b >= 10 ? Math.round(b) : b.toFixed(1)) + ' ' + u[i];
  }
  function kb(v) { return v == null ? null : v * 1024; }
  function catId(i) { return D.categories[R.category[i]][0]; }
  function catTitle(i) { return D.categories[R.category[i]][1]; }
  function color(id) { return COLORS[id] || '#999'; }
  var startNum = new Float64Array(N);
  for (var i = 0; i < N; i++) startNum[i] = parseInt(R.start[i], 16);
  function endHex(i) {
    try { return (BigInt('0x' + R.start[i]) + BigInt(R.size[i])).toString(16); }
    catch (e) { return (startNum[i] + R.size[i]).toString(16); }
  }
  function regionPath(i) {
    var p = S[R.path[i]];
    return R.deleted[i] ? p + ' (deleted)' : p;
  }
  function describe(i) {
    return R.start[i] + '-' + endHex(i) + ' ' + S[R.perms[i]] + ' ' + human(R.size[i]) +
      ' ' + catTitle(i) + (R.heuristic[i] ? ' (?)' : '') + ' ' + regionPath(i) +
      ' — ' + S[R.note[i]];
  }

  // A sortable table. cols: {h, num, text(row), key(row), title(row), swatch(row)}.
  function Table(table, cols, rows, opts) {
    opts = opts || {};
    this.table = table; this.cols = cols; this.all = rows; this.rows = rows;
    this.limit = opts.limit || Infinity; this.sort = -1; this.desc = false;
    this.onrender = opts.onrender;
    var self = this, thead = el('thead'), tr = el('tr');
    cols.forEach(function (c, k) {
      var th = el('th', c.num ? 'num' : '', c.h);
      th.tabIndex = 0;
      th.title = 'sort by ' + c.h;
      th.addEventListener('click', function () { self.sortBy(k); });
      th.addEventListener('keydown', function (ev) {
        if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); self.sortBy(k); }
      });
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    clear(table);
    table.appendChild(thead);
    this.tbody = el('tbody');
    table.appendChild(this.tbody);
    this.render();
  }
  Table.prototype.sortBy = function (k) {
    this.desc = this.sort === k ? !this.desc : !!this.cols[k].num;
    this.sort = k;
    this.apply();
  };
  Table.prototype.filter = function (pred) {
    this.pred = pred;
    this.apply();
  };
  Table.prototype.apply = function () {
    var rows = this.pred ? this.all.filter(this.pred) : this.all.slice();
    if (this.sort >= 0) {
      var c = this.cols[this.sort], key = c.key || c.text, d = this.desc ? -1 : 1;
      var keys = new Map();
      rows.forEach(function (r) { var v = key(r); keys.set(r, v == null ? -Infinity : v); });
      rows.sort(function (a, b) {
        var x = keys.get(a), y = keys.get(b);
        return x < y ? -d : x > y ? d : 0;
      });
    }
    this.rows = rows;
    this.render();
  };
  Table.prototype.render = function () {
    var frag = document.createDocumentFragment(), cols = this.cols;
    var n = Math.min(this.rows.length, this.limit);
    for (var j = 0; j < n; j++) {
      var r = this.rows[j], tr = el('tr');
      for (var k = 0; k < cols.length; k++) {
        var c = cols[k], td = el('td', c.num ? 'num' : c.cls || '');
        if (c.swatch) {
          var sw = el('span', 'swatch');
          sw.style.background = c.swatch(r);
          td.appendChild(sw);
        }
        td.appendChild(document.createTextNode(String(c.text(r))));
        if (c.title) td.title = c.title(r);
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    clear(this.tbody);
    this.tbody.appendChild(frag);
    var ths = this.table.tHead.rows[0].cells;
    for (var k2 = 0; k2 < ths.length; k2++) {
      ths[k2].className = (cols[k2].num ? 'num ' : '') +
        (k2 === this.sort ? (this.desc ? 'desc' : 'asc') : '');
    }
    if (this.onrender) this.onrender(this);
  };
  function range(n) { var a = []; for (var i = 0; i < n; i++) a.push(i); return a; }
  function usageCols(get) {
    return ['regions', 'size', 'rss', 'pss', 'uss', 'swap'].map(function (f) {
      return {
        h: { regions: 'Regions', size: 'Size', rss: 'RSS', pss: 'PSS', uss: 'USS', swap: 'Swap' }[f],
        num: true,
        key: function (r) { return get(r)[f]; },
        text: function (r) { var v = get(r)[f]; return f === 'regions' ? v : human(v); },
        title: function (r) { var v = get(r)[f]; return v == null ? 'unknown' : v + ' bytes'; }
      };
    });
  }

  // --- Header and summary ---
  var who = (REP.comm ? REP.comm : 'process') + (REP.pid != null ? ' (pid ' + REP.pid + ')' : '');
  document.title = 'maplens: ' + who;
  $('title').textContent = 'Memory of ' + who;
  $('subtitle').textContent = 'from ' + REP.source + ' (' + (REP.format || 'unknown format') +
    '), ' + (REP.is_64bit ? '64' : '32') + '-bit, page size ' + human(REP.page_size) +
    ' — ' + D.generator;
  var T = REP.totals, U = T.usage;
  function dt(name, value, title) {
    var d = $('totals');
    d.appendChild(el('dt', '', name));
    var v = el('dd', '', value);
    if (title) v.title = title;
    d.appendChild(v);
  }
  dt('Regions', U.regions + (T.max_map_count ? ' of at most ' + T.max_map_count : ''));
  ['size', 'rss', 'pss', 'uss', 'swap', 'dirty', 'locked', 'hugetlb', 'thp'].forEach(function (f) {
    var names = { size: 'Virtual size', rss: 'RSS', pss: 'PSS', uss: 'USS (private)', swap: 'Swap',
      dirty: 'Dirty', locked: 'Locked', hugetlb: 'hugetlb', thp: 'THP (anon)' };
    if (f === 'size' || U[f] != null) dt(names[f], human(U[f]), U[f] == null ? '' : U[f] + ' bytes');
  });
  if (T.rollup && T.rollup.pss != null) dt('PSS (smaps_rollup)', human(T.rollup.pss));
  if (REP.threads.count != null) dt('Threads', REP.threads.count);
  if (T.largest_gap) dt('Largest gap', human(T.largest_gap.size),
    T.largest_gap.start.toString(16) + '-' + T.largest_gap.end.toString(16));

  var cats = REP.categories;
  new Table($('categories'), [
    { h: 'Category', text: function (r) { return cats[r].title; },
      swatch: function (r) { return color(cats[r].category); },
      title: function (r) { return cats[r].category + (cats[r].heuristic_regions ?
        ', ' + cats[r].heuristic_regions + ' region(s) by layout heuristics' : ''); } }
  ].concat(usageCols(function (r) { return cats[r].usage; })), range(cats.length));
  var objs = REP.objects;
  new Table($('objects'), [
    { h: 'Path', cls: 'path', text: function (r) { return objs[r].path; } },
    { h: 'Segments', num: true, text: function (r) { return objs[r].segments.length; } }
  ].concat(usageCols(function (r) { return objs[r].usage; }).slice(1)), range(objs.length),
  { limit: 200 });
  var al = REP.allocators;
  $('allocators-note').textContent = 'C library: ' + (al.libc || 'not recognised') +
    '; glibc arenas: ' + al.glibc_arena_count + ' (' + human(al.glibc_arenas.size) + ')';
  new Table($('allocators'), [
    { h: 'Kind', text: function (r) { return al.rows[r].kind + (al.rows[r].heuristic ? ' (?)' : ''); } },
    { h: 'Start', cls: 'addr', text: function (r) { return al.rows[r].start.toString(16); } },
    { h: 'Used', num: true, key: function (r) { return al.rows[r].used; },
      text: function (r) { return human(al.rows[r].used); } },
    { h: 'Reserved', num: true, key: function (r) { return al.rows[r].reserved; },
      text: function (r) { return human(al.rows[r].reserved); } }
  ].concat(usageCols(function (r) { return al.rows[r].usage; }).slice(2)), range(al.rows.length),
  { limit: 200 });
  new Table($('named'), [
    { h: 'Name', cls: 'path', text: function (r) { return REP.named[r].name; } }
  ].concat(usageCols(function (r) { return REP.named[r].usage; })), range(REP.named.length));
  REP.notes.forEach(function (n) { $('notes').appendChild(el('li', '', n)); });

  // --- Time plot of a recording: stacked categories, growing objects,
  // leaking regions (the verdict is maplens's, computed before) ---
  function drawTimeline(tl) {
    $('time-section').hidden = false;
    $('nav-time').hidden = false;
    var W = 1000, H = 420, L = 72, RM = 16, TM = 14, BM = 36;
    var s = $('timeplot');
    clear(s);
    s.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    var xs = tl.t, n = xs.length;
    var xmax = Math.max(tl.span, n ? xs[n - 1] : 0, 1e-3);
    var acc = xs.map(function () { return 0; }), bands = [];
    tl.categories.forEach(function (c) {
      var lo = acc.slice();
      c.values.forEach(function (v, k) { acc[k] += v || 0; });
      bands.push({ c: c, lo: lo, hi: acc.slice() });
    });
    var ymax = 0;
    acc.forEach(function (v) { ymax = Math.max(ymax, v); });
    tl.total.forEach(function (p) { ymax = Math.max(ymax, p[1]); });
    ymax = Math.max(ymax * 1.08, 1);
    function X(t) { return L + t / xmax * (W - L - RM); }
    function Y(v) { return H - BM - v / ymax * (H - BM - TM); }
    function f(v) { return v.toFixed(1); }
    for (var k = 0; k <= 4; k++) {
      var yv = ymax * k / 4, yy = Y(yv), xv = xmax * k / 4, xx = X(xv);
      s.appendChild(svg('line', { x1: L, x2: W - RM, y1: f(yy), y2: f(yy), 'class': 'tp-grid' }));
      var yl = svg('text', { x: L - 6, y: f(yy + 4), 'text-anchor': 'end' });
      yl.textContent = human(yv);
      s.appendChild(yl);
      var xl = svg('text', { x: f(xx), y: H - BM + 16, 'text-anchor': 'middle' });
      xl.textContent = (xv < 10 ? xv.toFixed(1) : Math.round(xv)) + ' s';
      s.appendChild(xl);
    }
    s.appendChild(svg('line', { x1: L, x2: L, y1: TM, y2: H - BM, 'class': 'tp-axis' }));
    s.appendChild(svg('line', { x1: L, x2: W - RM, y1: H - BM, y2: H - BM, 'class': 'tp-axis' }));
    var xt = svg('text', { x: W - RM, y: H - 4, 'text-anchor': 'end' });
    xt.textContent = 'seconds since the first sample';
    s.appendChild(xt);
    function legend(text, col, cls) {
      var item = el('span', 'legend-item ' + cls);
      var sw = el('span', 'swatch');
      sw.style.background = col;
      item.appendChild(sw);
      item.appendChild(document.createTextNode(text));
      $('tp-legend').appendChild(item);
    }
    function titled(node, text) {
      var t = svg('title', {});
      t.textContent = text;
      node.appendChild(t);
      return node;
    }
    function change(values) {
      var a = null, b = null;
      values.forEach(function (v) { if (v != null) { if (a == null) a = v; b = v; } });
      return human(a) + ' → ' + human(b);
    }
    bands.forEach(function (b) {
      var d = '';
      for (var i = 0; i < n; i++) d += (i ? ' L' : 'M') + f(X(xs[i])) + ',' + f(Y(b.hi[i]));
      for (var j = n - 1; j >= 0; j--) d += ' L' + f(X(xs[j])) + ',' + f(Y(b.lo[j]));
      var p = svg('path', { d: d + ' Z', fill: color(b.c.id), 'class': 'tp-area',
        'data-category': b.c.id,
        'data-values': b.c.values.map(function (v) { return v || 0; }).join(',') });
      s.appendChild(titled(p, b.c.title + ': ' + change(b.c.values)));
      legend(b.c.title, color(b.c.id), 'tp-cat');
    });
    function line(points, cls, stroke, title) {
      var d = '';
      points.forEach(function (p, i) { d += (i ? ' L' : 'M') + f(X(p[0])) + ',' + f(Y(p[1])); });
      var attrs = { d: d, 'class': cls };
      if (stroke) attrs.stroke = stroke;
      s.appendChild(titled(svg('path', attrs), title));
    }
    function pts(values) {
      var out = [];
      values.forEach(function (v, i) { if (v != null) out.push([xs[i], v]); });
      return out;
    }
    line(tl.total, 'tp-total', null, 'process total: ' +
      change(tl.total.map(function (p) { return p[1]; })));
    legend('process total', '#111', 'tp-tot');
    var OBJ = ['#1f77b4', '#ff7f0e', '#2ca02c'];
    tl.objects.forEach(function (o, i) {
      var c = OBJ[i % OBJ.length];
      line(pts(o.values), 'tp-object', c, 'object ' + o.name + ': ' + change(o.values) +
        ' (' + human(o.slope) + '/s)');
      legend('object ' + o.name, c, 'tp-obj');
    });
    tl.leaks.forEach(function (r) {
      var what = (r.name || r.category || 'anonymous') + (r.start ? ' at ' + r.start : '');
      var title = 'LEAK ' + what + ': ' + change(r.values) + ' (+' + human(r.slope) + '/s)';
      var p = pts(r.values);
      line(p, 'tp-leak-line', null, title);
      p.forEach(function (q) {
        s.appendChild(titled(svg('circle', { cx: f(X(q[0])), cy: f(Y(q[1])), r: 3.5,
          'class': 'tp-leak' }), title));
      });
      legend('LEAK ' + what, '#c62828', 'tp-lk');
    });
    var v = $('tp-verdict');
    var span = tl.span < 10 ? tl.span.toFixed(1) : Math.round(tl.span);
    var base = tl.who + ': ' + tl.samples + ' samples (' + tl.full_samples + ' full) over ' +
      span + ' s. ';
    if (tl.leak) {
      v.className = 'leak';
      v.textContent = base + 'Leak: ' + tl.findings.map(function (x) {
        return (x.scope === 'process' ? 'process' : x.scope + ' ' + (x.name || '(anonymous)')) +
          (x.start ? ' at ' + x.start : '') +
          ' +' + human(x.slope) + '/s';
      }).join('; ');
    } else {
      v.textContent = base + 'No leak: nothing grew steadily through the recording.';
    }
    s.setAttribute('data-series', String(bands.length));
  }
  if (D.timeline) drawTimeline(D.timeline);

  // --- Treemap: category -> group (object or name) -> region ---
  function value(i, metric) {
    if (metric === 'rss') return kb(R.rss_kb[i]) || 0;
    if (metric === 'pss') return kb(R.pss_kb[i]) || 0;
    return R.size[i];
  }
  function buildTree(metric) {
    var root = { name: 'all', value: 0, children: [], depth: 0 }, byCat = {};
    for (var i = 0; i < N; i++) {
      var v = value(i, metric);
      if (!(v > 0)) continue;
      var c = R.category[i], g = R.group[i];
      var cn = byCat[c];
      if (!cn) {
        cn = byCat[c] = { name: D.categories[c][1], cat: D.categories[c][0], value: 0,
          children: [], groups: {}, depth: 1 };
        root.children.push(cn);
      }
      var gn = cn.groups[g];
      if (!gn) {
        gn = cn.groups[g] = { name: S[g] || '(anonymous)', cat: cn.cat, value: 0, children: [],
          depth: 2, parent: cn };
        cn.children.push(gn);
      }
      gn.children.push({ region: i, value: v, cat: cn.cat, depth: 3, parent: gn });
      gn.value += v; cn.value += v; root.value += v;
    }
    root.children.forEach(function (c) { c.parent = root; });
    return root;
  }
  // Squarified layout (Bruls, Huizing, van Wijk) of nodes into a rectangle.
  function squarify(nodes, x, y, w, h) {
    var total = 0;
    nodes.sort(function (a, b) { return b.value - a.value; });
    nodes.forEach(function (n) { total += n.value; });
    if (!(total > 0) || w <= 0 || h <= 0) return;
    var scale = w * h / total, i = 0;
    while (i < nodes.length) {
      var side = Math.min(w, h), s = 0, mx = 0, mn = Infinity, j = i, worst = Infinity;
      while (j < nodes.length) {
        var a = nodes[j].value * scale;
        var s2 = s + a, mx2 = Math.max(mx, a), mn2 = Math.min(mn, a);
        var w2 = Math.max(side * side * mx2 / (s2 * s2), s2 * s2 / (side * side * mn2));
        if (j > i && w2 > worst) break;
        s = s2; mx = mx2; mn = mn2; worst = w2; j++;
      }
      var k;
      if (w >= h) {
        var cw = s / h, yy = y;
        for (k = i; k < j; k++) {
          var rh = nodes[k].value * scale / cw;
          nodes[k].r = [x, yy, cw, rh]; yy += rh;
        }
        x += cw; w -= cw;
      } else {
        var rh2 = s / w, xx = x;
        for (k = i; k < j; k++) {
          var rw = nodes[k].value * scale / rh2;
          nodes[k].r = [xx, y, rw, rh2]; xx += rw;
        }
        y += rh2; h -= rh2;
      }
      i = j;
    }
  }
  // Regions get their own box when at least 4x4, the first 5000 of them
  // (the page stays quick with 60,000 regions); the rest show in their
  // object's box.
  var MAX_LEAVES = 5000;
  var TW = 1000, TH = 560, tmRoot = null, tmMetric = 'size', tmTree = null;
  function nodeTitle(n, metric) {
    var what = n.region != null ? describe(n.region) :
      (n.depth === 2 ? n.parent.name + ' › ' : '') + n.name;
    return what + ': ' + human(n.value) + ' ' + (metric === 'size' ? 'size' : metric.toUpperCase());
  }
  function drawTreemap() {
    var s = $('treemap');
    clear(s);
    s.setAttribute('viewBox', '0 0 ' + TW + ' ' + TH);
    var root = tmRoot || tmTree, count = 0, leaves = 0;
    if (!root.children.length) {
      var t = svg('text', { x: 10, y: 24, 'class': 'tm-empty' });
      t.textContent = 'No ' + tmMetric.toUpperCase() + ' figures in this snapshot.';
      s.appendChild(t);
      return;
    }
    function draw(n, x, y, w, h) {
      if (w < 1 || h < 1) return;
      var g = svg('g', { 'class': 'tm-d' + n.depth });
      var r = svg('rect', { x: x.toFixed(1), y: y.toFixed(1), width: w.toFixed(1),
        height: h.toFixed(1), fill: color(n.cat) });
      var title = svg('title', {});
      title.textContent = nodeTitle(n, tmMetric);
      r.appendChild(title);
      g.appendChild(r);
      s.appendChild(g);
      count++;
      if (n.depth < 3) {
        g.classList.add('zoomable');
        g.addEventListener('click', function (ev) { ev.stopPropagation(); zoom(n); });
      } else {
        g.addEventListener('click', function (ev) { ev.stopPropagation(); findRegion(n.region); });
      }
      var label = n.depth < 3 && w > 36 && h > 14;
      if (label) {
        var tx = svg('text', { x: (x + 3).toFixed(1), y: (y + 11).toFixed(1) });
        var chars = Math.floor((w - 6) / 6.2);
        var name = n.name + ' ' + human(n.value);
        tx.textContent = name.length > chars ? name.slice(0, Math.max(chars - 1, 1)) + '…' : name;
        g.appendChild(tx);
      }
      if (!n.children || !n.children.length) return;
      var top = label ? 14 : 1, pad = n.depth < 2 ? 2 : 1;
      var ix = x + pad, iy = y + top, iw = w - 2 * pad, ih = h - top - pad;
      if (iw < 3 || ih < 3) return;
      if (n.depth === 2) {
        // Skip the layout when not one region could get a 4x4 box.
        var big = 0;
        n.children.forEach(function (c) { if (c.value > big) big = c.value; });
        if (big / n.value * iw * ih < 16 || leaves >= MAX_LEAVES) return;
      }
      squarify(n.children, ix, iy, iw, ih);
      n.children.forEach(function (c) {
        if (c.depth === 3 && (c.r[2] < 4 || c.r[3] < 4 || leaves >= MAX_LEAVES)) return;
        if (c.depth === 3) leaves++;
        draw(c, c.r[0], c.r[1], c.r[2], c.r[3]);
      });
    }
    if (root.depth === 0) {
      squarify(root.children, 0, 0, TW, TH);
      root.children.forEach(function (c) { draw(c, c.r[0], c.r[1], c.r[2], c.r[3]); });
    } else {
      draw(root, 0, 0, TW, TH);
    }
    s.setAttribute('data-rects', String(count));
  }
  function crumbs() {
    var c = $('tm-crumbs');
    clear(c);
    var path = [], n = tmRoot;
    while (n) { path.unshift(n); n = n.parent; }
    if (!path.length) path = [tmTree];
    path.forEach(function (p, k) {
      if (k) c.appendChild(document.createTextNode(' › '));
      var b = el('button', 'crumb', p.depth === 0 ? 'all memory' : p.name);
      b.type = 'button';
      b.addEventListener('click', function () { zoom(p.depth === 0 ? null : p); });
      c.appendChild(b);
    });
  }
  function zoom(n) { tmRoot = n; crumbs(); drawTreemap(); }
  function setMetric(m) {
    tmMetric = m; tmTree = buildTree(m); tmRoot = null; crumbs(); drawTreemap();
  }
  var metricSel = $('tm-metric');
  // A report from a recording has Rss but no Pss.
  var hasPss = REP.has_residency && R.pss_kb.some(function (v) { return v != null; });
  for (var o = 0; o < metricSel.options.length; o++) {
    var mv = metricSel.options[o].value;
    if ((mv === 'rss' && !REP.has_residency) || (mv === 'pss' && !hasPss)) {
      metricSel.options[o].disabled = true;
    }
  }
  metricSel.addEventListener('change', function () { setMetric(metricSel.value); });
  setMetric(hasPss ? 'pss' : REP.has_residency ? 'rss' : 'size');
  metricSel.value = tmMetric;

  // --- Address-space map: regions and gaps, to scale or on a log scale ---
  var MW = 1000, ROWS = 8, RH = 26, RGAP = 16, MH = ROWS * (RH + RGAP);
  var linearEnd = parseInt(D.linear_end, 16);
  function mapItems(log) {
    var items = [], pos = 0, prevEnd = null, page = REP.page_size || 4096;
    for (var i = 0; i < N; i++) {
      var st = startNum[i], en = st + R.size[i];
      if (!log && st >= linearEnd) break;
      if (prevEnd != null && st > prevEnd) {
        var gw = log ? Math.log2(1 + (st - prevEnd) / page) : st - prevEnd;
        items.push({ gap: true, start: prevEnd, end: st, x0: pos, x1: pos + gw });
        pos += gw;
      }
      var w = log ? Math.log2(1 + R.size[i] / page) + 0.5 : R.size[i];
      items.push({ region: i, x0: pos, x1: pos + w });
      pos += w;
      prevEnd = prevEnd == null ? en : Math.max(prevEnd, en);
    }
    return { items: items, total: pos };
  }
  var mapState = null;
  function drawMap() {
    var log = $('map-log').checked, s = $('addrmap');
    clear(s);
    s.setAttribute('viewBox', '0 0 ' + MW + ' ' + MH);
    var m = mapItems(log), P = MW * ROWS, scale = m.total > 0 ? P / m.total : 0;
    var cover = new Float64Array(P), who = new Int32Array(P).fill(-1);
    m.items.forEach(function (it, k) {
      if (it.gap) return;
      var a = it.x0 * scale, b = it.x1 * scale;
      for (var p = Math.floor(a); p < Math.min(Math.ceil(b), P); p++) {
        var ov = Math.min(b, p + 1) - Math.max(a, p);
        if (ov > cover[p]) { cover[p] = ov; who[p] = k; }
      }
      if (Math.floor(a) >= P && P > 0 && cover[P - 1] === 0) who[P - 1] = k;
    });
    var drawn = 0;
    for (var row = 0; row < ROWS; row++) {
      var y = row * (RH + RGAP) + RGAP - 2;
      s.appendChild(svg('rect', { x: 0, y: y, width: MW, height: RH, 'class': 'gap' }));
      var p0 = row * MW;
      // Each row starts at the address found at its left edge.
      var lab = svg('text', { x: 0, y: y - 3, 'class': 'maplabel' });
      var at = itemAt(m.items, p0 / scale);
      lab.textContent = !at ? '' : at.gap
        ? Math.floor(at.start + (p0 / scale - at.x0) * (log ? (at.end - at.start) / (at.x1 - at.x0) : 1)).toString(16)
        : R.start[at.region];
      s.appendChild(lab);
      var q0 = 0;
      while (q0 < MW) {
        var k0 = who[p0 + q0];
        if (k0 < 0) { q0++; continue; }
        var c0 = R.category[m.items[k0].region], q1 = q0 + 1;
        while (q1 < MW && who[p0 + q1] >= 0 && R.category[m.items[who[p0 + q1]].region] === c0) q1++;
        s.appendChild(svg('rect', { x: q0, y: y, width: q1 - q0, height: RH,
          fill: color(D.categories[c0][0]), 'class': 'mapped' }));
        drawn++;
        q0 = q1;
      }
    }
    s.setAttribute('data-runs', String(drawn));
    mapState = { m: m, scale: scale, who: who };
  }
  function mapHit(ev) {
    if (!mapState) return null;
    var s = $('addrmap'), box = s.getBoundingClientRect();
    var x = (ev.clientX - box.left) * MW / box.width, y = (ev.clientY - box.top) * MH / box.height;
    var row = Math.floor((y - RGAP + 2) / (RH + RGAP));
    if (row < 0 || row >= ROWS || x < 0 || x >= MW) return null;
    var p = row * MW + Math.floor(x), k = mapState.who[p];
    if (k >= 0) return mapState.m.items[k];
    return itemAt(mapState.m.items, (p + 0.5) / mapState.scale);
  }
  function itemAt(items, pos) {
    var lo = 0, hi = items.length - 1;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (items[mid].x1 <= pos) lo = mid + 1; else hi = mid;
    }
    return items[lo] || null;
  }
  var info = $('map-info');
  $('addrmap').addEventListener('mousemove', function (ev) {
    var it = mapHit(ev);
    if (!it) return;
    info.textContent = it.gap ? 'unmapped ' + Math.floor(it.start).toString(16) + '-' +
      Math.floor(it.end).toString(16) + ': ' + human(it.end - it.start) : describe(it.region);
  });
  $('addrmap').addEventListener('click', function (ev) {
    var it = mapHit(ev);
    if (it && !it.gap) findRegion(it.region);
  });
  // `report.html#log` opens with the log scale.
  if (location.hash === '#log') $('map-log').checked = true;
  $('map-log').addEventListener('change', drawMap);
  var present = {};
  for (var pi = 0; pi < N; pi++) present[R.category[pi]] = true;
  D.categories.forEach(function (c, k) {
    if (!present[k]) return;
    var item = el('span', 'legend-item');
    var sw = el('span', 'swatch');
    sw.style.background = color(c[0]);
    item.appendChild(sw);
    item.appendChild(document.createTextNode(c[1]));
    $('legend').appendChild(item);
  });
  var gapItem = el('span', 'legend-item');
  gapItem.appendChild(el('span', 'swatch gap-swatch'));
  gapItem.appendChild(document.createTextNode('unmapped'));
  $('legend').appendChild(gapItem);
  drawMap();

  // --- Threads ---
  var th = REP.threads, st = th.stacks;
  $('threads-note').textContent = (th.count != null ? th.count + (th.count === 1 ? ' thread; ' : ' threads; ') : '') +
    'stacks tied to threads by ' + th.attribution + (th.note ? ' (' + th.note + ')' : '') +
    (th.unmatched.length ? '; no stack found for ' + th.unmatched.map(function (u) {
      return u[0] + (u[1] ? ' ' + u[1] : '');
    }).join(', ') : '');
  new Table($('threads'), [
    { h: 'TID', num: true, key: function (r) { return st[r].tid; },
      text: function (r) { return st[r].tid != null ? st[r].tid : '-'; } },
    { h: 'Name', text: function (r) { return (st[r].name || '') + (st[r].main ? ' (main)' : ''); } },
    { h: 'Stack', cls: 'addr', key: function (r) { return st[r].start; },
      text: function (r) { return st[r].start.toString(16) + '-' + st[r].end.toString(16); } },
    { h: 'Guard', num: true, key: function (r) { return st[r].guard; },
      text: function (r) { return human(st[r].guard); } },
    { h: 'Found by', text: function (r) { return st[r].rule + (st[r].heuristic ? ' (?)' : ''); } }
  ].concat(usageCols(function (r) { return st[r].usage; }).slice(1)), range(st.length));

  // --- Findings ---
  var F = D.findings, fbox = $('findings');
  if (!F) {
    fbox.appendChild(el('p', '', 'The findings engine is not in this build of maplens.'));
  } else {
    if (!F.findings.length) fbox.appendChild(el('p', 'none', 'No findings at severity low or above.'));
    F.findings.forEach(function (f) {
      var card = el('div', 'finding sev-' + f.severity);
      var h = el('h3');
      h.appendChild(el('span', 'sev', f.severity));
      h.appendChild(document.createTextNode(' ' + f.summary));
      card.appendChild(h);
      card.appendChild(el('p', 'meta', f.id + (f.subject ? ' — ' + f.subject : '')));
      if (f.explanation) card.appendChild(el('p', '', f.explanation));
      if (f.saving) card.appendChild(el('p', '', 'Could save ' + human(f.saving.bytes) + ' (' +
        f.saving.kind + '): ' + f.saving.basis));
      if (f.evidence.length) {
        var ul = el('ul');
        f.evidence.forEach(function (e) { ul.appendChild(el('li', '', e)); });
        card.appendChild(ul);
      }
      if (f.regions.length) {
        var rl = el('p', 'meta', 'Regions: ' + f.regions.slice(0, 8).map(function (r) {
          return r.start.toString(16) + '-' + r.end.toString(16) + ' ' + r.perms + ' ' + r.path;
        }).join('; ') + (f.regions.length > 8 ? '; …' : ''));
        card.appendChild(rl);
      }
      fbox.appendChild(card);
    });
    if (F.below_threshold) fbox.appendChild(el('p', 'meta', F.below_threshold + ' below the threshold.'));
    if (F.skipped.length) {
      var sk = el('details');
      sk.appendChild(el('summary', '', F.skipped.length + ' rule(s) could not run on this target'));
      var sul = el('ul');
      F.skipped.forEach(function (s) { sul.appendChild(el('li', '', s.id + ': ' + s.reason)); });
      sk.appendChild(sul);
      fbox.appendChild(sk);
    }
  }

  // --- Region table, with search ---
  var PAGE = 500;
  var lower = S.map(function (s) { return s.toLowerCase(); });
  var regions = new Table($('regions'), [
    { h: 'Start', cls: 'addr', key: function (r) { return startNum[r]; },
      text: function (r) { return R.start[r]; } },
    { h: 'End', cls: 'addr', key: function (r) { return startNum[r] + R.size[r]; },
      text: function (r) { return endHex(r); } },
    { h: 'Size', num: true, key: function (r) { return R.size[r]; },
      text: function (r) { return human(R.size[r]); }, title: function (r) { return R.size[r] + ' bytes'; } },
    { h: 'Perm', cls: 'addr', text: function (r) { return S[R.perms[r]]; } },
    { h: 'RSS', num: true, key: function (r) { return R.rss_kb[r]; },
      text: function (r) { return human(kb(R.rss_kb[r])); } },
    { h: 'PSS', num: true, key: function (r) { return R.pss_kb[r]; },
      text: function (r) { return human(kb(R.pss_kb[r])); } },
    { h: 'Swap', num: true, key: function (r) { return R.swap_kb[r]; },
      text: function (r) { return human(kb(R.swap_kb[r])); } },
    { h: 'Kind', text: function (r) { return catTitle(r) + (R.heuristic[r] ? ' (?)' : ''); },
      swatch: function (r) { return color(catId(r)); } },
    { h: 'Path', cls: 'path', text: regionPath },
    { h: 'Note', cls: 'note', text: function (r) { return S[R.note[r]]; },
      title: function (r) { return 'rule ' + S[R.rule[r]] + ': ' + S[R.evidence[r]]; } }
  ], range(N), {
    limit: PAGE,
    onrender: function (t) {
      $('region-count').textContent = Math.min(t.rows.length, t.limit) + ' shown of ' +
        t.rows.length + ' matching (' + N + ' regions)';
      $('more').hidden = t.rows.length <= t.limit;
    }
  });
  $('more').addEventListener('click', function () { regions.limit += PAGE; regions.render(); });
  function search(q) {
    q = q.trim().toLowerCase();
    regions.limit = PAGE;
    if (!q) { regions.filter(null); return; }
    var addr = null, m = /^(0x)?([0-9a-f]{1,16})$/.exec(q);
    if (m) { try { addr = BigInt('0x' + m[2]); } catch (e) { addr = null; } }
    var catHit = D.categories.map(function (c) {
      return c[0].indexOf(q) >= 0 || c[1].toLowerCase().indexOf(q) >= 0;
    });
    var hit = new Map();
    function has(id) {
      var v = hit.get(id);
      if (v === undefined) { v = lower[id].indexOf(q) >= 0; hit.set(id, v); }
      return v;
    }
    regions.filter(function (r) {
      if (has(R.path[r]) || catHit[R.category[r]] || S[R.perms[r]] === q) return true;
      if (addr !== null && (m[1] || q.length >= 6)) {
        var s0 = BigInt('0x' + R.start[r]);
        return addr >= s0 && addr < s0 + BigInt(R.size[r]);
      }
      return false;
    });
  }
  var box = $('search');
  box.addEventListener('input', function () { search(box.value); });
  function findRegion(i) {
    box.value = '0x' + R.start[i];
    search(box.value);
    $('regions-section').scrollIntoView();
  }
  document.body.setAttribute('data-ready', 'yes');
})();

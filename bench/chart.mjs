// SVG chart of a benchmark result, no dependencies: one panel per dtype, one group of bars per
// (shape, style), one bar per system (effective GB/s, log scale, since the naive baseline and the
// native kernels are orders of magnitude apart), and the limit drawn as a black line over each group;
// then a decode panel: time per call at S1 (what a token costs). Whiskers span the min..max samples.

const PALETTE = {
  native: ['#1f4e9c', '#3b7dd8', '#7fb0ee', '#b9d4f5'],
  threads: ['#0e7c6b', '#2bb39b', '#8fdcca'],
  async: ['#6a3d9a'],
  js: ['#e07b00'],
  table: ['#8c8c8c'],
  naive: ['#d6604d'],
  wasm: ['#9467bd'],
  wasm0: ['#c5b0d5'],
  other: ['#9467bd', '#8c564b', '#e377c2'],
};

export function escapeXml(s) {
  return String(s).replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]);
}

/** Colour per bar system, by kind, in the systems' order. */
function systemColors(systems) {
  const used = {};
  const colors = {};
  for (const s of systems) {
    const list = PALETTE[s.kind] ?? PALETTE.other;
    const i = used[s.kind] ?? 0;
    used[s.kind] = i + 1;
    colors[s.id] = list[i % list.length];
  }
  return colors;
}

const tick = (v) => (v >= 1 ? String(Math.round(v)) : String(Number(v.toPrecision(1))));
const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(2));

/**
 * @param {object} results  bench results (see run.mjs): { meta, systems, cells }
 * @returns {string} an SVG document
 */
export function renderChart(results) {
  const { meta, systems, cells } = results;
  const barSystems = systems.filter((s) => s.kind !== 'limit' && s.kind !== 'limit2');
  const limit = systems.find((s) => s.kind === 'limit');
  const colors = systemColors(barSystems);
  const dtypes = [...new Set(cells.map((c) => c.dtype))];
  const groupsOf = (dtype) => cells.filter((c) => c.dtype === dtype);
  const maxGroups = Math.max(1, ...dtypes.map((d) => groupsOf(d).length));

  // Log scale bounds from every value drawn.
  const values = [];
  for (const c of cells) for (const r of Object.values(c.results)) if (r && r.gbps > 0) values.push(r.gbps);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values, 1))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values, 1) * 1.05)));

  const W = Math.max(900, 110 + maxGroups * 130);
  const left = 70;
  const right = 20;
  const top = 96 + 16 * (legendLines(barSystems, limit, left, Math.max(900, 110 + maxGroups * 130) - right) - 1);
  const panelH = 300;
  const panelGap = 74;
  const plotW = W - left - right;
  const decodeCells = cells.filter((c) => c.shape === 'S1');
  const decodeTop = top + dtypes.length * (panelH + panelGap);
  const hasTimes = decodeCells.some((c) => Object.values(c.results).some((r) => r && r.min > 0));
  const H = decodeTop + (hasTimes ? panelH + panelGap : 0) + 10;
  const y = (v, y0) => y0 + panelH - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * panelH;

  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  const title = `rope-simd applyQK in place: effective GB/s on ${meta.cpu} (${meta.cores} cores), ${meta.date}`;
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(title)}</text>`);
  const sub =
    'Llama-3-8B attention (32 q heads, 8 kv heads, headDim 128). GB/s = 2 x (bytes q + bytes k) / median time; higher is better.' +
    (meta.quick ? ' Quick run.' : '');
  out.push(`<text x="${W / 2}" y="42" text-anchor="middle" fill="#444">${escapeXml(sub)}</text>`);

  // Legend: bar systems, then the limit line (wrapping onto a second line: see legendLines).
  let lx = left;
  let ly = 62;
  for (const s of barSystems) {
    const w = 24 + 7 * (s.label ?? s.id).length;
    if (lx + w > W - right && lx > left) {
      lx = left;
      ly += 16;
    }
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colors[s.id]}"/>`);
    out.push(`<text x="${lx + 16}" y="${ly}">${escapeXml(s.label ?? s.id)}</text>`);
    lx += w;
  }
  if (limit && lx + 40 + 7 * (limit.label ?? 'limit').length > W - right) {
    lx = left;
    ly += 16;
  }
  if (limit) {
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 22}" y2="${ly - 4}" stroke="black" stroke-width="2.5"/>`);
    out.push(`<text x="${lx + 28}" y="${ly}">${escapeXml(limit.label ?? 'limit')}</text>`);
  }

  dtypes.forEach((dtype, p) => {
    const y0 = top + p * (panelH + panelGap);
    const groups = groupsOf(dtype);
    out.push(`<g class="panel" data-dtype="${escapeXml(dtype)}">`);
    out.push(
      `<text x="${left}" y="${y0 - 8}" font-size="14" font-weight="bold">${escapeXml(dtype)}</text>`,
    );
    // Grid and y axis: a line per power of ten, lighter lines at 2x and 5x.
    for (let d = lo; d <= hi * 1.0001; d *= 10) {
      for (const m of [1, 2, 5]) {
        const v = d * m;
        if (v > hi * 1.0001) break;
        const yy = y(v, y0).toFixed(1);
        out.push(`<line x1="${left}" y1="${yy}" x2="${W - right}" y2="${yy}" stroke="${m === 1 ? '#ccc' : '#eee'}"/>`);
        if (m === 1 || hi / lo <= 1000)
          out.push(`<text x="${left - 6}" y="${Number(yy) + 4}" text-anchor="end" fill="${m === 1 ? '#000' : '#777'}">${tick(v)}</text>`);
      }
    }
    out.push(`<line x1="${left}" y1="${y0}" x2="${left}" y2="${y0 + panelH}" stroke="black"/>`);
    out.push(`<line x1="${left}" y1="${y0 + panelH}" x2="${W - right}" y2="${y0 + panelH}" stroke="black"/>`);
    const ay = y0 + panelH / 2;
    out.push(`<text transform="translate(${left - 48},${ay}) rotate(-90)" text-anchor="middle">GB/s (log scale)</text>`);

    const gw = plotW / maxGroups;
    groups.forEach((cell, g) => {
      const gx = left + g * gw;
      const present = barSystems.filter((s) => cell.results[s.id]);
      const bw = Math.min(22, (gw * 0.84) / Math.max(1, present.length));
      const bx0 = gx + (gw - bw * present.length) / 2;
      present.forEach((s, i) => {
        const r = cell.results[s.id];
        const top_ = y(r.gbps, y0);
        const h = Math.max(0.5, y0 + panelH - top_);
        const tip = `${s.label ?? s.id}, ${cell.id}: ${fmt(r.gbps)} GB/s, median ${Math.round(r.median)} ns/call`;
        out.push(
          `<rect class="bar" data-system="${escapeXml(s.id)}" data-cell="${escapeXml(cell.id)}" x="${(bx0 + i * bw).toFixed(1)}" y="${top_.toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${colors[s.id]}"><title>${escapeXml(tip)}</title></rect>`,
        );
        // min..max whisker: GB/s of the slowest and fastest sample.
        if (r.min > 0 && r.max > 0)
          whisker(out, bx0 + i * bw + (bw - 1) / 2, y((r.gbps * r.median) / r.max, y0), y((r.gbps * r.median) / r.min, y0), y0, y0 + panelH);
      });
      const lr = limit && cell.results[limit.id];
      if (lr) {
        const yy = y(lr.gbps, y0).toFixed(1);
        out.push(
          `<line class="limit" data-cell="${escapeXml(cell.id)}" x1="${(bx0 - 4).toFixed(1)}" y1="${yy}" x2="${(bx0 + bw * present.length + 3).toFixed(1)}" y2="${yy}" stroke="black" stroke-width="2.5"><title>${escapeXml(`limit, ${cell.id}: ${fmt(lr.gbps)} GB/s`)}</title></line>`,
        );
        out.push(`<text x="${(gx + gw / 2).toFixed(1)}" y="${Number(yy) - 5}" text-anchor="middle" font-size="10">${fmt(lr.gbps)}</text>`);
      }
      const cx = (gx + gw / 2).toFixed(1);
      out.push(`<text x="${cx}" y="${y0 + panelH + 16}" text-anchor="middle" font-weight="bold">${escapeXml(`${cell.shape} ${cell.style}`)}</text>`);
      out.push(`<text x="${cx}" y="${y0 + panelH + 30}" text-anchor="middle" fill="#555" font-size="11">${escapeXml(cell.shapeNote ?? '')}</text>`);
    });
    out.push('</g>');
  });
  if (decodeCells.length) decodePanel(out, { cells: decodeCells, systems: barSystems, colors, left, right, W, y0: decodeTop, panelH, limit });
  const foot = [meta.node && `node ${meta.node}`, meta.platform, meta.command, meta.loadavgBefore && `load avg ${meta.loadavgBefore[0]}`]
    .filter(Boolean)
    .join(' · ');
  if (foot) out.push(`<text x="${W - right}" y="${H - 8}" text-anchor="end" font-size="10" fill="#777">${escapeXml(foot)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function legendLines(barSystems, limit, left, end) {
  let lx = left;
  let lines = 1;
  for (const s of barSystems) {
    const w = 24 + 7 * (s.label ?? s.id).length;
    if (lx + w > end && lx > left) {
      lx = left;
      lines++;
    }
    lx += w;
  }
  if (limit && lx + 40 + 7 * (limit.label ?? 'limit').length > end) lines++;
  return lines;
}

// A min..max whisker, clipped to the panel [yTop, yBottom] (a sample can fall off the axis).
function whisker(out, x, yA, yB, yTop = -Infinity, yBottom = Infinity) {
  const clip = (v) => Math.min(yBottom, Math.max(yTop, v));
  const a = clip(Math.min(yA, yB)).toFixed(1);
  const b = clip(Math.max(yA, yB)).toFixed(1);
  const xs = x.toFixed(1);
  out.push(`<path class="whisker" d="M${xs} ${a}V${b}M${(x - 3).toFixed(1)} ${a}h6M${(x - 3).toFixed(1)} ${b}h6" stroke="#222" stroke-width="1" fill="none"/>`);
}

const fmtNs = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toPrecision(3)} ms` : ns >= 1e3 ? `${(ns / 1e3).toPrecision(3)} µs` : `${Math.round(ns)} ns`);

/** Decode (S1): time per call, log scale, lower is better; the limit call as a line. */
function decodePanel(out, { cells, systems, colors, left, right, W, y0, panelH, limit }) {
  const values = [];
  for (const c of cells) for (const r of Object.values(c.results)) if (r && r.min > 0) values.push(r.min, r.max);
  if (values.length === 0) return; // (results without samples: nothing to draw)
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values) * 1.05)));
  const y = (v) => y0 + panelH - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * panelH;
  out.push('<g class="panel" data-panel="decode">');
  out.push(`<text x="${left}" y="${y0 - 8}" font-size="14" font-weight="bold">decode (S1, one token): time per call, lower is better</text>`);
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    const yy = y(d).toFixed(1);
    out.push(`<line x1="${left}" y1="${yy}" x2="${W - right}" y2="${yy}" stroke="#ccc"/>`);
    out.push(`<text x="${left - 6}" y="${Number(yy) + 4}" text-anchor="end">${fmtNs(d)}</text>`);
  }
  out.push(`<line x1="${left}" y1="${y0}" x2="${left}" y2="${y0 + panelH}" stroke="black"/>`);
  out.push(`<line x1="${left}" y1="${y0 + panelH}" x2="${W - right}" y2="${y0 + panelH}" stroke="black"/>`);
  const gw = (W - left - right) / cells.length;
  cells.forEach((cell, g) => {
    const gx = left + g * gw;
    const present = systems.filter((s) => cell.results[s.id]?.min > 0);
    const bw = Math.min(22, (gw * 0.84) / Math.max(1, present.length));
    const bx0 = gx + (gw - bw * present.length) / 2;
    present.forEach((s, i) => {
      const r = cell.results[s.id];
      const t = y(r.median);
      const tip = `${s.label ?? s.id}, ${cell.id}: median ${fmtNs(r.median)} per call (min ${fmtNs(r.min)}, max ${fmtNs(r.max)})`;
      out.push(
        `<rect class="tbar" data-system="${escapeXml(s.id)}" data-cell="${escapeXml(cell.id)}" x="${(bx0 + i * bw).toFixed(1)}" y="${t.toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${Math.max(0.5, y0 + panelH - t).toFixed(1)}" fill="${colors[s.id]}"><title>${escapeXml(tip)}</title></rect>`,
      );
      whisker(out, bx0 + i * bw + (bw - 1) / 2, y(r.min), y(r.max), y0, y0 + panelH);
    });
    const lr = limit && cell.results[limit.id];
    if (lr) {
      const yy = y(lr.median).toFixed(1);
      out.push(`<line class="tlimit" x1="${(bx0 - 4).toFixed(1)}" y1="${yy}" x2="${(bx0 + bw * present.length + 3).toFixed(1)}" y2="${yy}" stroke="black" stroke-width="2.5"><title>${escapeXml(`limit call, ${cell.id}: ${fmtNs(lr.median)}`)}</title></line>`);
      out.push(`<text x="${(gx + gw / 2).toFixed(1)}" y="${Number(yy) - 5}" text-anchor="middle" font-size="10">${fmtNs(lr.median)}</text>`);
    }
    out.push(`<text x="${(gx + gw / 2).toFixed(1)}" y="${y0 + panelH + 16}" text-anchor="middle" font-weight="bold">${escapeXml(`${cell.style} ${cell.dtype}`)}</text>`);
  });
  out.push('</g>');
}

// Charts drawn as SVG by this file alone: no chart library, nothing from another origin.
"use strict";
window.TrellisCharts = (function () {
  const SVG = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs || {})) {
      node.setAttribute(key, String(value));
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function format(value, unit) {
    if (value === null || value === undefined || Number.isNaN(value)) {
      return "–";
    }
    if (unit === "%") {
      return (value * 100).toFixed(1) + " %";
    }
    if (unit === "ms") {
      return value.toFixed(value < 10 ? 1 : 0) + " ms";
    }
    return value.toFixed(value < 10 ? 2 : 1) + (unit ? " " + unit : "");
  }

  /**
   * A line chart of samples [{at, ...}] for each of series [{key, label, cls}], with a gap where a
   * value is null. unit: "%", "ms" or a word. The polyline of each series carries
   * data-points = how many values it drew.
   */
  function line(container, id, title, samples, series, unit) {
    const width = 600, height = 170, left = 56, right = 10, top = 22, bottom = 24;
    const svg = el("svg", {viewBox: "0 0 " + width + " " + height, class: "chart", id: id, role: "img", "aria-label": title});
    svg.appendChild(el("text", {x: left, y: 14, class: "chart-title"}, title));
    const times = samples.map(s => Date.parse(s.at));
    const values = [];
    for (const s of series) {
      for (const sample of samples) {
        if (sample[s.key] !== null && sample[s.key] !== undefined) {
          values.push(sample[s.key]);
        }
      }
    }
    if (samples.length === 0 || values.length === 0) {
      svg.appendChild(el("text", {x: width / 2, y: height / 2, class: "chart-empty", "text-anchor": "middle"},
          "no data yet: points appear every 10 s"));
      container.appendChild(svg);
      return svg;
    }
    const t0 = Math.min(...times), t1 = Math.max(...times);
    let max = Math.max(...values);
    if (unit === "%") {
      max = 1;
    }
    if (max <= 0) {
      max = 1;
    }
    const min = unit === "%" ? Math.min(0.5, Math.min(...values)) : 0;
    const x = t => left + (t1 === t0 ? (width - left - right) / 2 : (t - t0) / (t1 - t0) * (width - left - right));
    const y = v => top + (1 - (v - min) / (max - min || 1)) * (height - top - bottom);
    for (const fraction of [0, 0.5, 1]) {
      const v = min + (max - min) * fraction;
      svg.appendChild(el("line", {x1: left, x2: width - right, y1: y(v), y2: y(v), class: "chart-grid"}));
      svg.appendChild(el("text", {x: left - 4, y: y(v) + 4, "text-anchor": "end", class: "chart-axis"}, format(v, unit)));
    }
    svg.appendChild(el("text", {x: left, y: height - 6, class: "chart-axis"}, new Date(t0).toLocaleTimeString()));
    svg.appendChild(el("text", {x: width - right, y: height - 6, "text-anchor": "end", class: "chart-axis"}, new Date(t1).toLocaleTimeString()));
    let legendX = width - right;
    for (const s of series.slice().reverse()) {
      const label = el("text", {x: legendX, y: 14, "text-anchor": "end", class: "chart-legend " + s.cls}, s.label);
      svg.appendChild(label);
      legendX -= 8 * s.label.length + 16;
    }
    for (const s of series) {
      let run = [];
      let drawn = 0;
      const flush = () => {
        if (run.length === 1) {
          const [cx, cy] = run[0].split(",");
          svg.appendChild(el("circle", {cx: cx, cy: cy, r: 4, class: "chart-dot " + s.cls}));
        }
        if (run.length > 0) {
          const polyline = el("polyline", {points: run.join(" "), class: "chart-line " + s.cls, "data-series": s.key});
          svg.appendChild(polyline);
          drawn += run.length;
        }
        run = [];
      };
      samples.forEach((sample, i) => {
        const v = sample[s.key];
        if (v === null || v === undefined) {
          flush();
        } else {
          run.push(x(times[i]).toFixed(1) + "," + y(v).toFixed(1));
        }
      });
      flush();
      svg.setAttribute("data-points-" + s.key, drawn);
    }
    svg.setAttribute("data-points", samples.length);
    container.appendChild(svg);
    return svg;
  }

  function successClass(rate) {
    if (rate === null || rate === undefined) {
      return "sr-none";
    }
    return rate >= 0.95 ? "sr-good" : rate >= 0.8 ? "sr-warn" : "sr-bad";
  }

  /**
   * The call graph: workloads in columns by how far they sit from a caller nobody calls, calls
   * as arrows coloured by success. Each edge group carries data-edge="src->dst".
   */
  function topology(container, data, onNode) {
    const key = n => n.namespace + "/" + n.kind + "/" + n.name;
    const nodes = new Map(data.nodes.map(n => [key(n), n]));
    const incoming = new Map([...nodes.keys()].map(k => [k, 0]));
    for (const e of data.edges) {
      incoming.set(key(e.dst), (incoming.get(key(e.dst)) || 0) + 1);
    }
    const depth = new Map();
    const queue = [...nodes.keys()].filter(k => incoming.get(k) === 0);
    queue.forEach(k => depth.set(k, 0));
    for (let guard = 0; queue.length > 0 && guard < 10000; guard++) {
      const k = queue.shift();
      for (const e of data.edges.filter(e => key(e.src) === k)) {
        const d = key(e.dst);
        if (!depth.has(d) || depth.get(d) < depth.get(k) + 1) {
          if ((depth.get(k) + 1) < nodes.size) {
            depth.set(d, depth.get(k) + 1);
            queue.push(d);
          }
        }
      }
    }
    for (const k of nodes.keys()) {
      if (!depth.has(k)) {
        depth.set(k, 0);
      }
    }
    const columns = [];
    for (const [k, d] of depth) {
      (columns[d] = columns[d] || []).push(k);
    }
    const nodeW = 200, nodeH = 46, gapX = 110, gapY = 30, pad = 20;
    const position = new Map();
    columns.forEach((column, c) => column.sort().forEach((k, r) => position.set(k, {x: pad + c * (nodeW + gapX), y: pad + r * (nodeH + gapY)})));
    const width = pad * 2 + Math.max(1, columns.length) * (nodeW + gapX) - gapX;
    const height = pad * 2 + Math.max(1, ...columns.map(c => c.length)) * (nodeH + gapY) - gapY;
    const svg = el("svg", {viewBox: "0 0 " + width + " " + height, width: width, height: height, class: "topology", id: "topology-graph", role: "img", "aria-label": "call graph"});
    const defs = el("defs");
    for (const cls of ["sr-good", "sr-warn", "sr-bad", "sr-none"]) {
      const marker = el("marker", {id: "arrow-" + cls, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse"});
      marker.appendChild(el("path", {d: "M 0 0 L 10 5 L 0 10 z", class: "arrow " + cls}));
      defs.appendChild(marker);
    }
    svg.appendChild(defs);
    for (const e of data.edges) {
      const a = position.get(key(e.src)), b = position.get(key(e.dst));
      if (!a || !b) {
        continue;
      }
      const cls = successClass(e.successRate);
      const group = el("g", {class: "edge", "data-edge": e.src.name + "->" + e.dst.name});
      const x1 = a.x + nodeW, y1 = a.y + nodeH / 2, x2 = b.x, y2 = b.y + nodeH / 2;
      const backwards = x2 <= x1;
      const path = backwards
          ? "M " + (a.x + nodeW / 2) + " " + (a.y + nodeH) + " C " + (a.x + nodeW / 2) + " " + (a.y + nodeH + 60) + ", " + (b.x + nodeW / 2) + " " + (b.y + nodeH + 60) + ", " + (b.x + nodeW / 2) + " " + (b.y + nodeH)
          : "M " + x1 + " " + y1 + " C " + (x1 + gapX / 2) + " " + y1 + ", " + (x2 - gapX / 2) + " " + y2 + ", " + x2 + " " + y2;
      group.appendChild(el("path", {d: path, class: "edge-line " + cls, "marker-end": "url(#arrow-" + cls + ")"}));
      const mx = backwards ? (a.x + b.x + nodeW) / 2 : (x1 + x2) / 2, my = backwards ? Math.max(a.y, b.y) + nodeH + 40 : (y1 + y2) / 2 - 6;
      group.appendChild(el("text", {x: mx, y: my, "text-anchor": "middle", class: "edge-label"}, format(e.rps, "rps") + " · " + format(e.successRate, "%")));
      svg.appendChild(group);
    }
    for (const [k, n] of nodes) {
      const p = position.get(k);
      const rate = n.stat ? n.stat.successRate : null;
      const group = el("g", {class: "node", "data-node": n.name, tabindex: 0});
      group.appendChild(el("rect", {x: p.x, y: p.y, width: nodeW, height: nodeH, rx: 6, class: "node-box " + successClass(rate)}));
      group.appendChild(el("text", {x: p.x + 8, y: p.y + 18, class: "node-name"}, n.name));
      group.appendChild(el("text", {x: p.x + 8, y: p.y + 36, class: "node-detail"},
          n.kind + (n.stat ? " · " + format(n.stat.successRate, "%") + " · " + format(n.stat.rps, "rps") : "")));
      if (onNode && n.kind !== "Service") {
        group.addEventListener("click", () => onNode(n));
      }
      svg.appendChild(group);
    }
    container.appendChild(svg);
    return svg;
  }

  return {line: line, topology: topology, format: format, successClass: successClass};
})();

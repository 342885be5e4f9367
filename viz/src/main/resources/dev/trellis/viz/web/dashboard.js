// The dashboard's pages: one page, routes in the fragment (#/namespaces, #/workload/ns/kind/name …),
// data from /api/ with the session cookie, the CSRF token on every POST. Text only through
// textContent: nothing the mesh reports is ever parsed as HTML.
"use strict";
(function () {
  const C = window.TrellisCharts;
  const page = document.getElementById("page");
  let session = null;
  let refreshTimer = null;
  let live = null;

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "onclick") {
        node.addEventListener("click", value);
      } else if (key === "class") {
        node.className = value;
      } else if (value !== null && value !== undefined && value !== false) {
        node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) {
        node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
      }
    }
    return node;
  }

  async function api(path, params) {
    const query = params ? "?" + new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "")) : "";
    const response = await fetch("/api/" + path + query, {credentials: "same-origin"});
    if (response.status === 401) {
      location.replace("/login");
      throw new Error("logged out");
    }
    const body = await response.json();
    if (!response.ok) {
      throw new Error(body.error || ("HTTP " + response.status));
    }
    return body;
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-Trellis-CSRF": session.csrf},
      body: JSON.stringify(body || {}),
    });
  }

  const fmt = C.format;
  const pct = v => fmt(v, "%");
  const ms = v => fmt(v, "ms");
  const rps = v => fmt(v, "");

  function srCell(rate) {
    return h("td", {class: "num " + C.successClass(rate)}, pct(rate));
  }

  function workloadLink(ns, kind, name) {
    return h("a", {href: "#/workload/" + encodeURIComponent(ns) + "/" + encodeURIComponent(kind) + "/" + encodeURIComponent(name)}, name);
  }

  /** A table whose columns sort on click: columns [{label, value(row), cell(row), num}]. */
  function table(id, columns, rows, initialSort) {
    let sortBy = initialSort || 0;
    let descending = false;
    const tbody = h("tbody");
    const render = () => {
      const sorted = rows.slice().sort((a, b) => {
        const va = columns[sortBy].value(a), vb = columns[sortBy].value(b);
        const cmp = (va === null || va === undefined) ? 1 : (vb === null || vb === undefined) ? -1 : va < vb ? -1 : va > vb ? 1 : 0;
        return descending ? -cmp : cmp;
      });
      tbody.replaceChildren(...sorted.map(row => h("tr", {"data-key": columns[0].value(row)}, columns.map(c => c.cell ? c.cell(row) : h("td", {class: c.num ? "num" : ""}, c.text ? c.text(row) : String(c.value(row) ?? "–"))))));
    };
    const head = h("tr", {}, columns.map((c, i) => h("th", {
      class: c.num ? "num sortable" : "sortable", onclick: () => {
        descending = sortBy === i ? !descending : false;
        sortBy = i;
        render();
      }
    }, c.label)));
    render();
    return h("table", {id: id}, h("thead", {}, head), tbody, rows.length === 0 ? h("caption", {}, "nothing yet") : null);
  }

  const statColumns = [
    {label: "Meshed", value: r => r.meshedPods / Math.max(1, r.pods), text: r => r.meshedPods + "/" + r.pods, num: true},
    {label: "Success", value: r => r.successRate, cell: r => srCell(r.successRate), num: true},
    {label: "RPS", value: r => r.rps, text: r => rps(r.rps), num: true},
    {label: "P50", value: r => r.latencyP50Ms, text: r => ms(r.latencyP50Ms), num: true},
    {label: "P95", value: r => r.latencyP95Ms, text: r => ms(r.latencyP95Ms), num: true},
    {label: "P99", value: r => r.latencyP99Ms, text: r => ms(r.latencyP99Ms), num: true},
  ];

  function section(title, ...children) {
    return h("section", {}, h("h2", {}, title), ...children);
  }

  function error(e) {
    page.replaceChildren(h("p", {class: "error", role: "alert"}, String(e.message || e)));
  }

  // ---- pages ----

  async function namespacesPage() {
    const rows = await api("namespaces");
    page.replaceChildren(section("Namespaces", table("namespaces-table", [
      {label: "Namespace", value: r => r.namespace, cell: r => h("td", {}, h("a", {href: "#/workloads/" + encodeURIComponent(r.namespace)}, r.namespace))},
      ...statColumns,
      {label: "", value: r => r.namespace, cell: r => h("td", {}, h("a", {href: "#/topology/" + encodeURIComponent(r.namespace)}, "topology"))},
    ], rows)));
  }

  async function workloadsPage(ns) {
    const state = workloadsPage.state = workloadsPage.state || {kind: "", filter: ""};
    const rows = await api("workloads", {namespace: ns});
    const kinds = [...new Set(rows.map(r => r.kind))].sort();
    const kindSelect = h("select", {id: "kind-filter"}, h("option", {value: ""}, "every kind"), kinds.map(k => h("option", {value: k, selected: k === state.kind}, k)));
    const filterInput = h("input", {id: "name-filter", placeholder: "filter by name", value: state.filter});
    const holder = h("div");
    const render = () => {
      state.kind = kindSelect.value;
      state.filter = filterInput.value;
      const shown = rows.filter(r => (!state.kind || r.kind === state.kind) && r.name.includes(state.filter));
      holder.replaceChildren(table("workloads-table", [
        {label: "Namespace", value: r => r.namespace},
        {label: "Kind", value: r => r.kind},
        {label: "Name", value: r => r.name, cell: r => h("td", {}, workloadLink(r.namespace, r.kind, r.name))},
        ...statColumns,
        {label: "TCP", value: r => r.tcpConnections, num: true},
      ], shown, 2));
    };
    kindSelect.addEventListener("change", render);
    filterInput.addEventListener("input", render);
    render();
    page.replaceChildren(section(ns ? "Workloads in " + ns : "Workloads", h("div", {class: "controls"}, kindSelect, filterInput), holder));
  }

  async function workloadPage(ns, kind, name, query) {
    const range = query.get("range") || workloadPage.range || "5m";
    workloadPage.range = range;
    const w = await api("workload", {namespace: ns, kind: kind, name: name, range: range});
    const s = w.stat;
    const ranges = h("div", {class: "controls"}, ["5m", "1h", "6h"].map(r => h("a", {
      class: r === range ? "range active" : "range", href: "#/workload/" + [ns, kind, name].map(encodeURIComponent).join("/") + "?range=" + r
    }, r)), h("a", {class: "button", href: "#/live?" + new URLSearchParams({namespace: ns, kind: kind, name: name})}, "Live requests"));
    const charts = h("div", {class: "charts"});
    C.line(charts, "chart-success", "Success rate", w.history, [{key: "successRate", label: "success", cls: "s1"}], "%");
    C.line(charts, "chart-rps", "Requests per second", w.history, [{key: "rps", label: "rps", cls: "s1"}], "rps");
    C.line(charts, "chart-latency", "Latency" + (range === "5m" ? "" : " (highest of each step)"), w.history,
        [{key: "latencyP50Ms", label: "p50", cls: "s1"}, {key: "latencyP95Ms", label: "p95", cls: "s2"}, {key: "latencyP99Ms", label: "p99", cls: "s3"}], "ms");
    const edgeColumns = peer => [
      {label: peer === "src" ? "From" : "To", value: e => e[peer]},
      {label: "Namespace", value: e => peer === "src" ? e.srcNamespace : e.dstNamespace},
      {label: "Client identity", value: e => e.clientId},
      {label: "Server identity", value: e => e.serverId},
      {label: "mTLS", value: e => e.secured ? "yes" : "no"},
    ];
    const refused = Object.entries(w.refused.byReason).map(([reason, count]) => ({reason: reason, count: count}));
    const deniedBy = Object.entries(w.refused.byServer).map(([server, count]) => ({server: server, count: count}));
    const wouldDeny = Object.entries(w.refused.wouldDenyByServer || {}).map(([server, count]) => ({server: server, count: count}));
    page.replaceChildren(
        section(kind + " " + ns + "/" + name,
            h("div", {class: "cards"},
                card("Success", pct(s.successRate), C.successClass(s.successRate)), card("RPS", rps(s.rps)), card("P50", ms(s.latencyP50Ms)),
                card("P95", ms(s.latencyP95Ms)), card("P99", ms(s.latencyP99Ms)), card("Meshed", s.meshedPods + "/" + s.pods),
                card("mTLS", s.secured === null ? "–" : s.secured ? "all" : "not all")),
            ranges, charts),
        section("Inbound", table("inbound-table", edgeColumns("src"), w.inbound)),
        section("Outbound", table("outbound-table", edgeColumns("dst"), w.outbound)),
        section("Routes", w.routes.length === 0 ? h("p", {}, "No Service selects these pods.") : w.routes.map(sr => h("div", {},
            h("h3", {}, "Calls to " + sr.service),
            table("routes-" + sr.service, [
              {label: "Route", value: r => r.route}, {label: "Kind", value: r => r.routeKind || "-"},
              {label: "Authority", value: r => r.authority}, {label: "Backend", value: r => r.dstService || "-"},
              {label: "Success", value: r => r.successRate, cell: r => srCell(r.successRate), num: true},
              {label: "RPS", value: r => r.rps, text: r => rps(r.rps), num: true},
              {label: "P50", value: r => r.latencyP50Ms, text: r => ms(r.latencyP50Ms), num: true},
              {label: "P95", value: r => r.latencyP95Ms, text: r => ms(r.latencyP95Ms), num: true},
              {label: "P99", value: r => r.latencyP99Ms, text: r => ms(r.latencyP99Ms), num: true},
            ], sr.routes)))),
        section("Pods", table("pods-table", [
          {label: "Pod", value: p => p.stat ? p.stat.name : "–"},
          {label: "IP", value: p => p.ip},
          {label: "Identity", value: p => p.identity},
          {label: "Success", value: p => p.stat && p.stat.successRate, cell: p => srCell(p.stat && p.stat.successRate), num: true},
          {label: "RPS", value: p => p.stat && p.stat.rps, text: p => rps(p.stat && p.stat.rps), num: true},
          {label: "Certificate until", value: p => p.certificateNotAfter, text: p => p.certificateNotAfter ? new Date(p.certificateNotAfter).toLocaleString() : "–"},
        ], w.pods)),
        section("Inbound policy", w.policy.length === 0 ? h("p", {}, "No Server selects these pods: the namespace's default policy applies.")
            : table("policy-table", [
              {label: "Server", value: p => p.server}, {label: "Port", value: p => p.port}, {label: "Protocol", value: p => p.protocol},
              {label: "Access", value: p => p.accessPolicy === "audit" ? "audit: not enforced" : "deny"},
              {label: "Authorizations", value: p => p.authorizations.map(a => a.name + " (" + a.authentications.join(", ") + ")").join("; ")
                  || (p.accessPolicy === "audit" ? "none: every request would be refused" : "none: every request is refused")},
            ], w.policy),
            h("h3", {}, "Refused in the last minute"),
            table("refused-table", [{label: "Reason", value: r => r.reason}, {label: "Requests", value: r => r.count, num: true}], refused),
            table("denied-table", [{label: "Denied under Server", value: r => r.server}, {label: "Requests", value: r => r.count, num: true}], deniedBy),
            h("h3", {}, "Audit mode: let through, would be refused when enforced"),
            table("audit-table", [{label: "Server", value: r => r.server}, {label: "Requests", value: r => r.count, num: true}], wouldDeny)));
  }

  function card(label, value, cls) {
    return h("div", {class: "card " + (cls || "")}, h("div", {class: "card-label"}, label), h("div", {class: "card-value"}, value));
  }

  async function topologyPage(ns) {
    const namespaces = await api("namespaces");
    const chosen = ns || (namespaces.find(n => n.rps > 0) || namespaces[0] || {}).namespace;
    const select = h("select", {id: "topology-namespace"}, namespaces.map(n => h("option", {value: n.namespace, selected: n.namespace === chosen}, n.namespace)));
    select.addEventListener("change", () => location.hash = "#/topology/" + encodeURIComponent(select.value));
    if (!chosen) {
      page.replaceChildren(section("Topology", h("p", {}, "No namespaces you may see.")));
      return;
    }
    const data = await api("topology", {namespace: chosen});
    const holder = h("div", {class: "topology-holder"});
    C.topology(holder, data, n => location.hash = "#/workload/" + [n.namespace, n.kind, n.name].map(encodeURIComponent).join("/"));
    page.replaceChildren(section("Topology", h("div", {class: "controls"}, select,
        h("span", {class: "legend"}, h("span", {class: "sr-good"}, "≥ 95 %"), " ", h("span", {class: "sr-warn"}, "≥ 80 %"), " ", h("span", {class: "sr-bad"}, "< 80 %"))),
        holder,
        table("topology-edges", [
          {label: "From", value: e => e.src.name}, {label: "To", value: e => e.dst.name}, {label: "Service", value: e => e.service},
          {label: "Success", value: e => e.successRate, cell: e => srCell(e.successRate), num: true},
          {label: "RPS", value: e => e.rps, text: e => rps(e.rps), num: true},
        ], data.edges)));
  }

  async function livePage(query) {
    if (live) {
      return;  // the page is already up and streaming; leave it be
    }
    const namespaces = await api("namespaces");
    const form = h("form", {id: "live-form", class: "controls"},
        h("select", {name: "namespace", id: "live-namespace"}, namespaces.map(n => h("option", {value: n.namespace, selected: n.namespace === query.get("namespace")}, n.namespace))),
        h("input", {name: "kind", type: "hidden", value: query.get("kind") || ""}),
        h("input", {name: "name", id: "live-name", placeholder: "workload", value: query.get("name") || ""}),
        h("input", {name: "path", id: "live-path", placeholder: "path prefix"}),
        h("input", {name: "method", id: "live-method", placeholder: "method", size: 7}),
        h("input", {name: "status", id: "live-status", placeholder: "status", size: 4}),
        h("button", {type: "submit", id: "live-toggle"}, "Start"));
    const stats = h("p", {id: "live-stats"}, "stopped");
    const rows = h("tbody", {id: "live-rows"});
    const top = h("tbody", {id: "top-rows"});
    page.replaceChildren(section("Live requests", form, stats,
        h("table", {id: "live-table"}, h("thead", {}, h("tr", {}, ["Time", "Dir", "From", "To", "Method", "Path", "Status", "Latency"].map(t => h("th", {}, t)))), rows)),
        section("Top paths", h("table", {id: "top-table"}, h("thead", {}, h("tr", {}, ["Method", "Path", "Count", "Success", "Best", "Worst", "Last"].map(t => h("th", {}, t)))), top)));
    const byPath = new Map();
    form.addEventListener("submit", async event => {
      event.preventDefault();
      if (live) {
        live.abort();
        return;
      }
      const filter = Object.fromEntries(new FormData(form).entries());
      const controller = new AbortController();
      live = controller;
      document.getElementById("live-toggle").textContent = "Stop";
      stats.textContent = "starting…";
      try {
        const response = await post("/api/live", filter).then(r => r, e => { throw e; });
        if (!response.ok) {
          stats.textContent = ((await response.json()).error) || ("HTTP " + response.status);
          return;
        }
        const reader = response.body.getReader();
        controller.signal.addEventListener("abort", () => reader.cancel());
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const {value, done} = await reader.read();
          if (done) {
            break;
          }
          buffer += decoder.decode(value, {stream: true});
          let newline;
          while ((newline = buffer.indexOf("\n")) >= 0) {
            const line = JSON.parse(buffer.slice(0, newline));
            buffer = buffer.slice(newline + 1);
            if (line.kind === "req") {
              rows.prepend(h("tr", {class: "live-row"}, h("td", {}, new Date(line.at).toLocaleTimeString()), h("td", {}, line.direction),
                  h("td", {}, line.srcIdentity || line.src), h("td", {}, line.dstIdentity || line.dst), h("td", {}, line.method), h("td", {}, line.path),
                  h("td", {class: line.status >= 500 || line.grpcStatus ? "sr-bad" : ""}, String(line.status ?? "–") + (line.grpcStatus ? " grpc " + line.grpcStatus : "")),
                  h("td", {class: "num"}, ms(line.latencyMs))));
              while (rows.children.length > 200) {
                rows.lastChild.remove();
              }
              const path = (line.path || "").split("?")[0];
              const key = line.method + " " + path;
              const t = byPath.get(key) || {method: line.method, path: path, count: 0, ok: 0, best: Infinity, worst: 0, last: 0};
              t.count++;
              t.ok += (line.status < 500 && !line.grpcStatus) ? 1 : 0;
              t.best = Math.min(t.best, line.latencyMs);
              t.worst = Math.max(t.worst, line.latencyMs);
              t.last = line.latencyMs;
              byPath.set(key, t);
            } else if (line.kind === "stats") {
              stats.textContent = "streaming: " + line.sent + " requests, " + line.dropped + " dropped";
              top.replaceChildren(...[...byPath.values()].sort((a, b) => b.count - a.count).slice(0, 50).map(t => h("tr", {},
                  h("td", {}, t.method), h("td", {}, t.path), h("td", {class: "num"}, t.count), srCell(t.ok / t.count),
                  h("td", {class: "num"}, ms(t.best)), h("td", {class: "num"}, ms(t.worst)), h("td", {class: "num"}, ms(t.last)))));
            } else if (line.kind === "end") {
              stats.textContent = "ended: " + line.why;
            }
          }
        }
      } catch (e) {
        if (!controller.signal.aborted) {
          stats.textContent = "stream failed: " + e.message;
        }
      } finally {
        if (controller.signal.aborted) {
          stats.textContent = "stopped";
        }
        live = null;
        const toggle = document.getElementById("live-toggle");
        if (toggle) {
          toggle.textContent = "Start";
        }
      }
    });
  }

  async function controlPlanePage() {
    const cp = await api("control-plane");
    page.replaceChildren(
        section("Checks", table("checks-table", [
          {label: "Check", value: c => c.name},
          {label: "", value: c => c.ok, cell: c => h("td", {class: c.ok ? "sr-good" : "sr-bad"}, c.ok ? "✔" : "✘")},
          {label: "Detail", value: c => c.detail},
        ], cp.checks)),
        section("Issuer", h("p", {id: "issuer-expiry"}, cp.issuerNotAfter ? "The issuer certificate is valid until " + new Date(cp.issuerNotAfter).toLocaleString() + "." : "The issuer's expiry is not known here.")),
        section("Certificates expiring soon", table("expiring-table", certificateColumns, cp.expiringSoon)),
        section("Every proxy's certificate", table("certificates-table", certificateColumns, cp.certificates)),
        section("Proxies that could not be scraped", table("scrape-errors", [{label: "Pod", value: e => e[0]}, {label: "Error", value: e => e[1]}], Object.entries(cp.scrapeErrors))));
  }

  const certificateColumns = [
    {label: "Namespace", value: c => c.namespace}, {label: "Pod", value: c => c.pod}, {label: "Identity", value: c => c.identity},
    {label: "Until", value: c => c.notAfter, text: c => new Date(c.notAfter).toLocaleString()},
  ];

  // ---- routing ----

  async function route(event) {
    clearTimeout(refreshTimer);
    const typing = document.activeElement && ["INPUT", "SELECT"].includes(document.activeElement.tagName);
    if (event === "refresh" && typing) {
      refreshTimer = setTimeout(() => route("refresh"), 5000);  // not while someone types in a filter
      return;
    }
    const hash = location.hash || "#/namespaces";
    const [path, search] = hash.slice(1).split("?");
    const query = new URLSearchParams(search || "");
    const parts = path.split("/").filter(p => p).map(decodeURIComponent);
    for (const a of document.querySelectorAll("nav a")) {
      a.classList.toggle("active", hash.startsWith(a.getAttribute("href")));
    }
    if (live && parts[0] !== "live") {
      live.abort();
    }
    let refresh = true;
    try {
      switch (parts[0]) {
        case "workloads": await workloadsPage(parts[1]); break;
        case "workload": await workloadPage(parts[1], parts[2], parts[3], query); break;
        case "topology": await topologyPage(parts[1]); break;
        case "live": refresh = false; await livePage(query); break;
        case "control-plane": await controlPlanePage(); break;
        default: await namespacesPage();
      }
      document.body.setAttribute("data-page", parts[0] || "namespaces");
    } catch (e) {
      error(e);
    }
    if (refresh) {
      refreshTimer = setTimeout(() => route("refresh"), 5000);
    }
  }

  async function start() {
    try {
      session = await api("session");
    } catch (e) {
      return;
    }
    document.getElementById("user").textContent = session.user;
    document.getElementById("logout").addEventListener("click", async () => {
      await post("/logout");
      location.replace("/login");
    });
    window.addEventListener("hashchange", route);
    route();
  }

  start();
})();

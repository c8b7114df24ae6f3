// The pages' shared drawing helpers: formatting, DOM building with tagged values, fetching a
// JSON twin, and Chart.js charts. page.js draws the sections with them (see its header).
"use strict";

window.crossroadsDraw = (() => {
  const API = "/api/v1";
  const COLORS = ["#3454d1", "#d1495b", "#00798c", "#edae49", "#66a182", "#8d6a9f",
    "#2e4057", "#f28f3b", "#5c946e", "#b5838d"];
  const NONE = "—";

  // --- formatting ----------------------------------------------------------------------------
  const number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
  const usd = (v) => (v === null || v === undefined ? NONE
    : "$" + (v >= 0.01 || v === 0 ? v.toFixed(2) : v.toPrecision(2)));
  const tokens = (v) => (v >= 1e6 ? compact.format(v) : number.format(v));
  const context = (v) => (v ? compact.format(v).replace(/\.0(?=[KMB])/, "") : NONE);
  const pct = (v) => (v === null || v === undefined ? NONE : number.format(v) + "%");
  const ms = (v) => (v === null || v === undefined ? NONE
    : v >= 1000 ? (v / 1000).toFixed(2) + " s" : Math.round(v) + " ms");
  const tps = (v) => (v === null || v === undefined ? NONE : number.format(v) + " tok/s");
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
    "Dec"];
  const day = (iso) => {
    if (!iso) return NONE;
    const [y, m, d] = iso.split("-").map(Number);
    return d ? `${MONTHS[m - 1]} ${d}, ${y}` : m ? `${MONTHS[m - 1]} ${y}` : String(y);
  };
  const when = (seconds, bucket) => {
    const t = new Date(seconds * 1000);
    const date = `${MONTHS[t.getUTCMonth()]} ${t.getUTCDate()}`;
    return bucket === "hour" ? `${date} ${String(t.getUTCHours()).padStart(2, "0")}:00` : date;
  };
  const modalities = (input, output) => `${input.join(", ")} → ${output.join(", ")}`;

  // --- DOM -----------------------------------------------------------------------------------
  const el = (tag, attrs = {}, text = null) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== null) node.textContent = text;
    return node;
  };
  const raw = (v) => (v === null || v === undefined ? "" : String(v));
  // A table cell holding one of the twin's values: formatted text, exact value beside it.
  const cell = (tr, field, value, text, numeric = true) => {
    const td = el("td", { "data-field": field, "data-value": raw(value),
      class: numeric ? "num" : "" }, text);
    tr.append(td);
    return td;
  };
  const section = (name) => document.querySelector(`[data-section="${name}"]`);
  const status = (node, text) => { node.querySelector("[data-role=status]").textContent = text; };
  const done = (node, state, text = "") => { status(node, text); node.dataset.state = state; };
  const tbody = (node) => {
    const body = node.querySelector("tbody");
    body.replaceChildren();
    return body;
  };
  const SEND_ONE = "send a request with the snippet in the API section below";

  async function twin(path) {
    const response = await fetch(API + path, { headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(`${path} answered ${response.status}`);
    return (await response.json()).data;
  }

  // --- charts --------------------------------------------------------------------------------
  function chart(id, type, labels, datasets, options = {}) {
    const canvas = document.getElementById(id);
    const existing = Chart.getChart(canvas);
    if (existing) existing.destroy();
    datasets.forEach((d, i) => {
      const color = COLORS[i % COLORS.length];
      d.borderColor ??= color;
      d.backgroundColor ??= color + (type === "bar" ? "cc" : "33");
    });
    return new Chart(canvas, {
      type,
      data: { labels, datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false, spanGaps: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { labels: { boxWidth: 12 } } },
        ...options,
      },
    });
  }
  // Time axes keep the raw bucket_start seconds as labels; only ticks and tooltips format them.
  const timeAxis = (bucket) => ({
    ticks: { maxRotation: 0, autoSkipPadding: 12,
      callback(value) { return when(this.getLabelForValue(value), bucket); } },
  });
  const timeTooltip = (bucket) => ({
    callbacks: { title: (items) => (items.length ? when(Number(items[0].label), bucket) : "") },
  });


  return Object.freeze({
    API, COLORS, NONE, number, compact, usd, tokens, context, pct, ms, tps, MONTHS, day, when,
    modalities, el, raw, cell, section, status, done, tbody, SEND_ONE, twin, chart, timeAxis,
    timeTooltip,
  });
})();

// Draws the model pages from their JSON twins (/api/v1/models/stats and
// /api/v1/models/{author}/{slug}/stats/{section}), fetched in parallel.
//
// Data only ever reaches the DOM through textContent and attributes, never as markup. Every drawn
// number is tagged so a test can compare it with the twin: a table cell or fact carries
// data-field (the twin's field name) and data-value (the twin's value, "" for null), each chart's
// canvas has an id (Chart.getChart(canvas).data holds the twin's numbers; time axes hold the raw
// bucket_start seconds as labels), and each section ends with data-state ready, empty or error.
// When every section has drawn, document.body.dataset.drawn is "1".
"use strict";

(() => {
  const {
    NONE, number, usd, tokens, context, pct, ms, tps, day, modalities, el, raw, cell, section,
    status, done, tbody, SEND_ONE, twin, chart, timeAxis, timeTooltip,
  } = window.crossroadsDraw;

  // --- /models -------------------------------------------------------------------------------
  async function drawDirectory() {
    const node = section("directory");
    const models = await twin("/models/stats");
    const body = tbody(node);
    for (const m of models) {
      const tr = el("tr", { "data-key": m.id });
      const name = el("td", { "data-field": "name", "data-value": m.name });
      name.append(el("a", { href: `/models/${m.id}` }, m.name));
      tr.append(name);
      cell(tr, "modalities", modalities(m.input_modalities, m.output_modalities),
        modalities(m.input_modalities, m.output_modalities), false);
      cell(tr, "context_length", m.context_length, context(m.context_length));
      cell(tr, "pricing.prompt", m.pricing && m.pricing.prompt, usd(m.pricing && m.pricing.prompt));
      cell(tr, "pricing.completion", m.pricing && m.pricing.completion,
        usd(m.pricing && m.pricing.completion));
      cell(tr, "uptime_1d", m.uptime_1d, pct(m.uptime_1d));
      cell(tr, "tokens_7d", m.tokens_7d, tokens(m.tokens_7d));
      body.append(tr);
    }
    if (!models.length) {
      done(node, "empty", "This router's catalog has no models; add a [[models]] table to its "
        + "config file.");
    } else if (models.every((m) => m.requests_7d === 0)) {
      done(node, "ready", "No traffic in the last 7 days yet: open a model and send a request "
        + "with the snippet on its page.");
    } else {
      done(node, "ready");
    }
  }

  // --- one model -----------------------------------------------------------------------------
  function fact(list, field, label, value, text) {
    const item = el("div", { "data-field": field, "data-value": raw(value) });
    item.append(el("dt", {}, label), el("dd", {}, text));
    list.append(item);
  }

  function drawOverview(node, o) {
    node.querySelector("[data-role=description]").textContent = o.description;
    const list = node.querySelector("[data-role=facts]");
    list.replaceChildren();
    fact(list, "modalities", "Modalities", modalities(o.input_modalities, o.output_modalities),
      modalities(o.input_modalities, o.output_modalities));
    fact(list, "pricing.prompt", "Input price", o.pricing && o.pricing.prompt,
      o.pricing ? `${usd(o.pricing.prompt)} per 1M` : NONE);
    fact(list, "pricing.completion", "Output price", o.pricing && o.pricing.completion,
      o.pricing ? `${usd(o.pricing.completion)} per 1M` : NONE);
    fact(list, "context_length", "Context", o.context_length, context(o.context_length));
    fact(list, "released", "Released", o.released, day(o.released));
    fact(list, "knowledge_cutoff", "Knowledge cutoff", o.knowledge_cutoff, day(o.knowledge_cutoff));
    if (o.license) fact(list, "license", "Licence", o.license, o.license);
    const a = o.architecture;
    if (a) {
      const parts = [a.kind, a.parameters_b && `${a.parameters_b}B total`,
        a.active_parameters_b && `${a.active_parameters_b}B active`,
        a.experts && `${a.active_experts ?? "?"} of ${a.experts} experts`].filter(Boolean);
      fact(list, "architecture.kind", "Architecture", a.kind, parts.join(", ") || NONE);
    }
    fact(list, "providers", "Providers", o.providers, String(o.providers));
    done(node, "ready");
  }

  function drawProviders(node, p) {
    const body = tbody(node);
    for (const e of p.endpoints) {
      const tr = el("tr", { "data-key": e.tag });
      const name = cell(tr, "provider_name", e.provider_name, e.provider_name, false);
      if (e.simulated) name.append(el("span", { class: "badge" }, "simulated"));
      cell(tr, "pricing.prompt", e.pricing.prompt, usd(e.pricing.prompt));
      cell(tr, "pricing.completion", e.pricing.completion, usd(e.pricing.completion));
      cell(tr, "pricing.cache_read", e.pricing.cache_read, usd(e.pricing.cache_read));
      cell(tr, "context_length", e.context_length, context(e.context_length));
      cell(tr, "max_output", e.max_output, context(e.max_output));
      cell(tr, "quantization", e.quantization, e.quantization, false);
      cell(tr, "throughput_p50", e.throughput_p50, tps(e.throughput_p50));
      cell(tr, "latency_p50_ms", e.latency_p50_ms, ms(e.latency_p50_ms));
      cell(tr, "ttft_p50_ms", e.ttft_p50_ms, ms(e.ttft_p50_ms));
      cell(tr, "uptime_30m", e.uptime_30m, pct(e.uptime_30m));
      const state = cell(tr, "state", e.state, e.state, false);
      state.classList.add(e.status === 0 ? "state-ok" : "state-bad");
      body.append(tr);
    }
    const picks = node.querySelector("[data-role=picks]");
    picks.replaceChildren();
    for (const pick of p.routing) {
      const li = el("li", { "data-mode": pick.mode, "data-field": "tag", "data-value": raw(pick.tag) });
      const title = pick.mode[0].toUpperCase() + pick.mode.slice(1);
      li.append(el("b", {}, title), document.createTextNode(" → "),
        el("span", { "data-field": "provider_name", "data-value": raw(pick.provider_name) },
          pick.provider_name ?? "no endpoint now"));
      if (pick.model_suffix) li.append(el("code", {}, ` ${pick.model_suffix}`));
      li.append(el("span", { class: "why" }, pick.why));
      picks.append(li);
    }
    if (!p.endpoints.length) {
      done(node, "empty", "No provider serves this model here yet: add an [[endpoints]] table "
        + "for it to the router's config file.");
    } else if (p.endpoints.every((e) => e.throughput_p50 === null && e.uptime_30m === null)) {
      done(node, "ready", `No live measurements from the last 30 minutes, so speeds and uptime `
        + `are blank: ${SEND_ONE}.`);
    } else {
      done(node, "ready");
    }
  }

  function drawPricing(node, p) {
    const priced = p.endpoints.filter((e) => e.requests > 0);
    if (!priced.length) {
      done(node, "empty", "No paid traffic in the last 30 days, so there is no effective price "
        + `to show yet (the list prices are in the providers table): ${SEND_ONE}.`);
      return;
    }
    const labels = priced.map((e) => e.provider_name);
    const bars = (list, effective) => [
      { label: "List price", data: priced.map(list), tags: priced.map((e) => e.tag) },
      { label: "Paid after caching", data: priced.map(effective), tags: priced.map((e) => e.tag) },
    ];
    chart("chart-pricing-prompt", "bar", labels,
      bars((e) => e.list.prompt, (e) => e.effective_prompt));
    chart("chart-pricing-completion", "bar", labels,
      bars((e) => e.list.completion, (e) => e.effective_completion));
    const body = tbody(node);
    for (const e of priced) {
      const tr = el("tr", { "data-key": e.tag });
      cell(tr, "provider_name", e.provider_name, e.provider_name, false);
      cell(tr, "list.prompt", e.list.prompt, usd(e.list.prompt));
      cell(tr, "effective_prompt", e.effective_prompt, usd(e.effective_prompt));
      cell(tr, "list.completion", e.list.completion, usd(e.list.completion));
      cell(tr, "effective_completion", e.effective_completion, usd(e.effective_completion));
      cell(tr, "cached_share", e.cached_share, pct(e.cached_share));
      cell(tr, "prompt_saving", e.prompt_saving, pct(e.prompt_saving));
      cell(tr, "requests", e.requests, number.format(e.requests));
      body.append(tr);
    }
    done(node, "ready");
  }

  const METRICS = [["throughput", "throughput"], ["latency", "latency_ms"], ["ttft", "ttft_ms"]];

  function drawPerformance(node, p) {
    const series = p.endpoints.filter((s) => s.points.length);
    if (!series.length) {
      done(node, "empty", `No completed requests in the last 72 hours to measure: ${SEND_ONE}.`);
      return;
    }
    const labels = [...new Set(series.flatMap((s) => s.points.map((pt) => pt.bucket_start)))]
      .sort((a, b) => a - b);
    for (const [id, field] of METRICS) {
      const datasets = series.map((s) => {
        const at = new Map(s.points.map((pt) => [pt.bucket_start, pt[field]]));
        return { label: s.provider_name, tag: s.tag, pointRadius: 3,
          data: labels.map((t) => (at.get(t) ? at.get(t).p50 : null)) };
      });
      chart(`chart-performance-${id}`, "line", labels, datasets, {
        scales: { x: timeAxis(p.span.bucket), y: { beginAtZero: true } },
        plugins: { tooltip: timeTooltip(p.span.bucket) },
      });
    }
    done(node, "ready");
  }

  function drawUptime(node, u) {
    const summary = node.querySelector("[data-role=summary]");
    summary.replaceChildren();
    if (!u.endpoints.some((e) => e.attempts > 0)) {
      done(node, "empty", `No attempts in the last 30 days, so no uptime yet: ${SEND_ONE}.`);
      return;
    }
    summary.append(
      el("span", { "data-field": "rescued_requests", "data-value": raw(u.rescued_requests) },
        number.format(u.rescued_requests)),
      document.createTextNode(" of "),
      el("span", { "data-field": "requests", "data-value": raw(u.requests) },
        number.format(u.requests)),
      document.createTextNode(" requests in the last 30 days were rescued by failover: "
        + "a provider failed and the next one answered."));
    for (const [bucket, key] of [["hour", "hourly"], ["day", "daily"]]) {
      const labels = u.endpoints[0][key].map((pt) => pt.bucket_start);
      const datasets = u.endpoints.map((e) => ({ label: e.provider_name, tag: e.tag,
        pointRadius: 2, data: e[key].map((pt) => pt.uptime) }));
      chart(`chart-uptime-${key}`, "line", labels, datasets, {
        scales: { x: timeAxis(bucket), y: { min: 0, max: 100 } },
        plugins: { tooltip: timeTooltip(bucket) },
      });
    }
    const body = tbody(node);
    for (const e of u.endpoints) {
      const tr = el("tr", { "data-key": e.tag });
      cell(tr, "provider_name", e.provider_name, e.provider_name, false);
      cell(tr, "uptime", e.uptime, pct(e.uptime));
      cell(tr, "attempts", e.attempts, number.format(e.attempts));
      cell(tr, "failures", e.failures, number.format(e.failures));
      cell(tr, "rescued", e.rescued, number.format(e.rescued));
      body.append(tr);
    }
    done(node, "ready");
  }

  function drawBenchmarks(node, b) {
    const body = tbody(node);
    if (!b.scores.length) {
      done(node, "empty", "No benchmark scores are recorded for this model in the catalog.");
      return;
    }
    for (const s of b.scores) {
      const tr = el("tr", { "data-key": s.benchmark });
      cell(tr, "name", s.name, s.variant ? `${s.name} (${s.variant})` : s.name, false);
      const score = cell(tr, "score", s.score, s.score === null ? "missing"
        : `${number.format(s.score)}${s.unit === "%" ? "%" : ` ${s.unit}`}`);
      if (s.score === null) score.classList.add("missing");
      cell(tr, "rank_percentile", s.rank_percentile,
        s.rank_percentile === null ? NONE : `${s.rank_percentile}th`);
      cell(tr, "rank", s.rank, s.rank === null ? NONE : `${s.rank} of ${s.ranked_models}`);
      const source = el("td", { "data-field": "source", "data-value": raw(s.source) });
      if (s.source && /^https?:\/\//.test(s.source)) {
        source.append(el("a", { href: s.source, rel: "noopener noreferrer" },
          new URL(s.source).hostname));
      } else {
        source.textContent = s.source ?? NONE;
      }
      if (s.read_on) source.append(document.createTextNode(` (${s.read_on})`));
      tr.append(source);
      body.append(tr);
    }
    done(node, "ready");
  }

  function drawApps(node, a) {
    const body = tbody(node);
    if (!a.apps.length && a.other_tokens === 0) {
      done(node, "empty", "No app has sent traffic in the last 30 days. Name yours with an "
        + "HTTP-Referer or X-Title header on its requests and it appears here.");
      return;
    }
    a.apps.forEach((app, i) => {
      const tr = el("tr", { "data-key": app.app });
      tr.append(el("td", { class: "num" }, String(i + 1)));
      const name = cell(tr, "app", app.app, app.title ?? app.app, false);
      if (app.title && app.title !== app.app) name.title = app.app;
      cell(tr, "tokens", app.tokens, tokens(app.tokens));
      cell(tr, "prompt_tokens", app.prompt_tokens, tokens(app.prompt_tokens));
      cell(tr, "completion_tokens", app.completion_tokens, tokens(app.completion_tokens));
      cell(tr, "requests", app.requests, number.format(app.requests));
      body.append(tr);
    });
    if (a.other_tokens > 0 || a.other_requests > 0) {
      const tr = el("tr", { "data-key": "(other)" });
      tr.append(el("td"), el("td", {}, "Other and unnamed"));
      cell(tr, "other_tokens", a.other_tokens, tokens(a.other_tokens));
      tr.append(el("td"), el("td"));
      cell(tr, "other_requests", a.other_requests, number.format(a.other_requests));
      body.append(tr);
    }
    done(node, "ready");
  }

  function drawActivity(node, a) {
    if (!a.days.some((d) => d.requests > 0 || d.tokens > 0)) {
      done(node, "empty", `No traffic in the last 30 days: ${SEND_ONE}.`);
      return;
    }
    const labels = a.days.map((d) => d.bucket_start);
    chart("chart-activity", "bar", labels, [
      { label: "Tokens", data: a.days.map((d) => d.tokens), yAxisID: "y", order: 2 },
      { label: "Requests", data: a.days.map((d) => d.requests), yAxisID: "y1", type: "line",
        order: 1, pointRadius: 2 },
    ], {
      scales: { x: timeAxis(a.span.bucket), y: { beginAtZero: true, position: "left" },
        y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } } },
      plugins: { tooltip: timeTooltip(a.span.bucket) },
    });
    done(node, "ready");
  }

  const SECTIONS = [
    ["overview", "overview", drawOverview],
    ["providers", "providers", drawProviders],
    ["pricing", "pricing", drawPricing],
    ["performance", "performance", drawPerformance],
    ["uptime", "uptime", drawUptime],
    ["benchmarks", "benchmarks", drawBenchmarks],
    ["apps", "apps", drawApps],
    ["activity", "activity", drawActivity],
  ];

  function drawModel(slug) {
    return SECTIONS.map(async ([name, path, draw]) => {
      const node = section(name);
      try {
        draw(node, await twin(`/models/${slug}/stats/${path}`));
      } catch (error) {
        done(node, "error", `Could not load this section (${error.message}). Reload the page `
          + "to try again.");
      }
    });
  }

  function wireCopyButtons() {
    for (const button of document.querySelectorAll("button[data-copy]")) {
      button.addEventListener("click", async () => {
        const code = document.getElementById(button.dataset.copy).textContent;
        try {
          await navigator.clipboard.writeText(code);
          button.textContent = "Copied";
          button.dataset.copied = "1";
        } catch {
          button.textContent = "Select and copy by hand";
        }
      });
    }
  }

  function main() {
    const { page, slug } = document.body.dataset;
    let tasks = [];
    if (page === "models") {
      tasks = [drawDirectory().catch((error) => done(section("directory"), "error",
        `Could not load the models (${error.message}). Reload the page to try again.`))];
    } else if (page === "model") {
      wireCopyButtons();
      tasks = drawModel(slug);
    }
    Promise.allSettled(tasks).then(() => { document.body.dataset.drawn = "1"; });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", main);
  } else {
    main();
  }
})();

// The console: reads the control API (docs/control-api.md) every two seconds and redraws
// every account. Whatever a client sent (paths, request ids, reasons) is set as text,
// never as HTML. Each number shown carries a `data-key` naming what it is, e.g.
// `mock-ak/mock-appkey/hat/requests`, so tests can read the page (docs/console.md).
"use strict";

const REFRESH_MS = 2000;
const JOURNAL_SHOWN = 50;
// Taken once from the page's address: a browser cannot send a header when it opens a page.
const TOKEN = new URLSearchParams(location.search).get("token");

async function get(path) {
  const headers = TOKEN === null ? {} : { "x-mock-token": TOKEN };
  const response = await fetch("/__mock/" + path, { headers, cache: "no-store" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(`GET /__mock/${path} answered ${response.status}: ${body.error || "no explanation"}`);
  }
  return body;
}

const enc = encodeURIComponent;

async function loadApp(appkey) {
  const [usage, stats] = await Promise.all([get(`apps/${enc(appkey)}/usage`), get(`apps/${enc(appkey)}/stats`)]);
  return { appkey, usage, stats };
}

async function loadAccount({ ak, appkeys }) {
  const [account, journal, rules, apps] = await Promise.all([
    get(`accounts/${enc(ak)}`),
    get(`accounts/${enc(ak)}/journal?limit=${JOURNAL_SHOWN}`),
    get(`accounts/${enc(ak)}/rules`),
    Promise.all(appkeys.map(loadApp)),
  ]);
  return { ak, account, journal, rules: rules.rules, apps };
}

async function load() {
  const { accounts } = await get("accounts");
  return Promise.all(accounts.map(loadAccount));
}

// --- drawing -------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

const DASH = "\u2014";
const ms = (v) => (typeof v === "number" ? v.toFixed(2) : DASH);
const td = (key, text, cls) => el("td", { "data-key": key, class: cls }, text);
const num = (key, text) => td(key, text, "n");

function table(headers, rows, empty) {
  if (rows.length === 0) return el("p", { class: "empty" }, empty);
  const head = el("tr", null, ...headers.map(([label, cls]) => el("th", { class: cls }, label)));
  return el("div", { class: "scroll" }, el("table", null, el("thead", null, head), el("tbody", null, ...rows)));
}

function packagesText(u) {
  if (!u.paid) return DASH;
  const valid = u.packages.filter((p) => p.valid).length;
  return `${valid} valid of ${u.packages.length}`;
}

function packagesTitle(u) {
  if (!u.paid) return null;
  return u.packages
    .map((p) => `#${p.id} ${p.kind}: ${p.used}/${p.calls} used, ${p.remaining} left, ${p.purchased} to ${p.expires}`)
    .join("\n");
}

function apiRow(key, api, u, s) {
  const codes = s ? Object.entries(s.codes).map(([code, n]) => `${code}\u00d7${n}`).join(" ") : "";
  const status = u.paid ? u.status : "free";
  const row = el(
    "tr",
    null,
    el("td", null, el("code", null, api)),
    td(`${key}/enabled`, u.enabled ? "yes" : "no"),
    td(`${key}/status`, status, status),
    num(`${key}/remaining`, u.paid ? u.remaining : DASH),
    el("td", { title: packagesTitle(u) }, packagesText(u)),
    num(`${key}/requests`, s ? s.requests : 0),
    num(`${key}/succeeded`, s ? s.succeeded : 0),
    td(`${key}/codes`, codes),
    num(`${key}/mean_ms`, s ? ms(s.mean_ms) : DASH),
    num(`${key}/max_ms`, s ? ms(s.max_ms) : DASH),
    num(`${key}/bytes_in`, s ? s.bytes_in : 0),
    num(`${key}/bytes_out`, s ? s.bytes_out : 0),
  );
  return row;
}

const API_HEADERS = [
  ["api"], ["enabled"], ["status"], ["remaining", "n"], ["packages"], ["calls", "n"], ["succeeded", "n"],
  ["answers by code"], ["mean ms", "n"], ["max ms", "n"], ["bytes in", "n"], ["bytes out", "n"],
];

function appPanel(ak, { appkey, usage, stats }) {
  const rows = Object.entries(usage.apis)
    .filter(([api, u]) => u.enabled || stats.apis[api])
    .map(([api, u]) => apiRow(`${ak}/${appkey}/${api}`, api, u, stats.apis[api]));
  return el(
    "div",
    { class: "app", "data-appkey": appkey },
    el("h3", null, `app ${usage.name} `, el("span", { class: "dim" }, `appkey ${appkey}`)),
    table(API_HEADERS, rows, "no api enabled and no calls yet"),
  );
}

function alertsPanel(ak, account) {
  const alerts = [...account.alerts].reverse();
  const refused = Object.entries(account.refused);
  return el(
    "div",
    null,
    el("h3", null, "alerts ", el("span", { class: "dim", "data-key": `${ak}/alerts/count` }, alerts.length)),
    alerts.length === 0
      ? el("p", { class: "empty" }, "no alerts")
      : el("ul", { class: "alerts" }, ...alerts.map((a, i) =>
        el("li", { "data-key": `${ak}/alerts/${i}` }, `${a.at} `, el("span", { class: "kind" }, a.kind), ` ${a.message}`))),
    el("h3", null, "gateway refusals"),
    refused.length === 0
      ? el("p", { class: "empty" }, "none")
      : el("p", null, ...refused.map(([code, n]) => el("span", null, `${code}\u00d7`, el("b", { "data-key": `${ak}/refused/${code}` }, n), " "))),
  );
}

function rulesPanel(ak, rules) {
  const rows = rules.map((r) => el(
    "tr",
    null,
    el("td", null, el("code", null, r.id)),
    el("td", null, [r.appkey || "every app", r.endpoint || "every api"].join(" / ")),
    el("td", null, el("code", null, JSON.stringify(r.when ?? "always"))),
    el("td", null, el("code", null, JSON.stringify(r.what))),
    num(`${ak}/rules/${r.id}/calls`, r.calls),
    num(`${ak}/rules/${r.id}/fired`, r.fired),
  ));
  const headers = [["id"], ["scope"], ["when"], ["what"], ["calls", "n"], ["fired", "n"]];
  return el("div", null, el("h3", null, "armed rules"), table(headers, rows, "no rule armed"));
}

function journalRow(ak, e) {
  const key = `${ak}/journal/${e.seq}`;
  const lints = e.lints.map((l) => l.id).join(" ");
  const lintTitle = e.lints.map((l) => `${l.id} (${l.manual}): ${l.message} fix: ${l.fix}`).join("\n");
  return el(
    "tr",
    null,
    num(`${key}/seq`, e.seq),
    td(`${key}/at`, e.at),
    td(`${key}/endpoint`, e.endpoint ?? DASH),
    td(`${key}/appkey`, e.appkey ?? DASH),
    num(`${key}/status`, e.status),
    num(`${key}/code`, e.code),
    td(`${key}/verdict`, e.verdict, e.verdict),
    td(`${key}/check`, e.check ?? ""),
    el("td", { "data-key": `${key}/lints`, class: "lint", title: lintTitle || null }, lints),
    num(`${key}/elapsed_ms`, ms(e.elapsed_ms)),
    el("td", { class: "reason", title: e.reason }, el("div", null, e.reason ?? "")),
  );
}

function journalPanel(ak, journal) {
  const rows = [...journal.entries].reverse().map((e) => journalRow(ak, e));
  const headers = [["seq", "n"], ["at"], ["api"], ["appkey"], ["http", "n"], ["code", "n"], ["verdict"], ["check"],
    ["lints"], ["ms", "n"], ["reason"]];
  return el(
    "div",
    null,
    el("h3", null, "journal ", el("span", { class: "dim" },
      "recorded ", el("span", { "data-key": `${ak}/journal/recorded` }, journal.recorded),
      ", dropped ", el("span", { "data-key": `${ak}/journal/dropped` }, journal.dropped),
      `, newest ${JOURNAL_SHOWN} shown, newest first`)),
    table(headers, rows, "no request yet"),
  );
}

function accountSection(a) {
  return el(
    "section",
    { class: "account", "data-ak": a.ak },
    el("h2", null, `account ${a.ak} `, el("span", { class: "dim" }, "clock ",
      el("span", { "data-key": `${a.ak}/clock` }, a.account.clock.eop_date))),
    ...a.apps.map((app) => appPanel(a.ak, app)),
    el("div", { class: "panels" }, alertsPanel(a.ak, a.account), rulesPanel(a.ak, a.rules)),
    journalPanel(a.ak, a.journal),
  );
}

function render(accounts) {
  const main = document.getElementById("accounts");
  if (accounts.length === 0) {
    main.replaceChildren(el("p", { class: "empty" }, "no accounts: create one with POST /__mock/accounts"));
    return;
  }
  main.replaceChildren(...accounts.map(accountSection));
}

// --- the loop ------------------------------------------------------------------------

let refreshes = 0;

async function refresh() {
  const status = document.getElementById("status");
  try {
    render(await load());
    refreshes += 1;
    document.body.dataset.state = "ready";
    document.body.dataset.refreshes = String(refreshes);
    status.textContent = `updated ${new Date().toLocaleTimeString()}, every ${REFRESH_MS / 1000} s`;
  } catch (error) {
    document.body.dataset.state = "error";
    status.textContent = `${error.message}; retrying every ${REFRESH_MS / 1000} s`;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

refresh();

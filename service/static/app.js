// The page's script: a file of its own, so the Content-Security-Policy can forbid inline scripts.
// It reads only through the public HTTP API. Text from the API is always set as text
// (textContent, attribute values), never parsed as HTML; links keep only http(s) addresses.
"use strict";

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const DAY_MS = 86400000;
const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;
const SVG_NS = "http://www.w3.org/2000/svg";

// What is shown, and what the URL holds so a view can be shared.
const state = { org: null, date: null, known: null, unit: null };
// What was read about the chosen organization.
let data = { units: [], events: [], changes: [], imports: [], names: new Map(), min: "2000-01-01", max: today() };
let renderSeq = 0; // answers to an older request are dropped when a newer one has started
let firstRender = true;

// --- small helpers ---------------------------------------------------------------------------

function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function today() { return new Date().toISOString().slice(0, 10); }
function dayNumber(iso) { return Math.round(Date.parse(`${iso}T00:00:00Z`) / DAY_MS); }
function dayText(n) { return new Date(n * DAY_MS).toISOString().slice(0, 10); }
function addDays(iso, n) { return dayText(dayNumber(iso) + n); }

// Valid-time text as the API writes it: 2023-11-17, 2023-11, 2023, 2015-12/2017 or unknown.
function lowOf(text) {
  if (!text || text === "unknown") return null;
  const m = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/.exec(text.split("/")[0]);
  return m ? `${m[1]}-${m[2] || "01"}-${m[3] || "01"}` : null;
}
function highOf(text) {
  if (!text || text === "unknown") return null;
  const parts = text.split("/");
  const m = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/.exec(parts[parts.length - 1]);
  if (!m) return null;
  if (m[3]) return `${m[1]}-${m[2]}-${m[3]}`;
  if (m[2]) return dayText(dayNumber(`${m[1]}-${m[2]}-01`) + new Date(Date.UTC(+m[1], +m[2], 0)).getUTCDate() - 1);
  return `${m[1]}-12-31`;
}
function precise(text) { return ISO_DAY.test(text || ""); }

function safeUrl(url) {
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch (e) {
    return null;
  }
}

async function api(path, params) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
  }
  let answer;
  try {
    answer = await fetch(url, { headers: { Accept: "application/json" } });
  } catch (e) {
    throw new Error(`The service could not be reached: ${e.message}`);
  }
  const body = await answer.json().catch(() => null);
  if (!answer.ok) {
    const detail = (body && (body.detail || body.title)) || answer.statusText;
    throw new Error(body && body.field ? `${detail} (${body.field})` : detail);
  }
  return body;
}

function showError(e) {
  const box = $("error");
  box.textContent = e instanceof Error ? e.message : String(e);
  box.hidden = false;
}
function clearError() { $("error").hidden = true; $("error").textContent = ""; }

function knownParam() { return state.known || null; }
function unitName(slug) {
  const u = data.units.find((x) => x.slug === slug);
  return u ? u.name : slug;
}
function personName(slug) { return data.names.get(slug) || slug; }

// --- the URL ---------------------------------------------------------------------------------

function readUrl() {
  const q = new URLSearchParams(window.location.search);
  state.org = q.get("org");
  state.date = ISO_DAY.test(q.get("date") || "") ? q.get("date") : null;
  if (q.get("date") && !state.date) showError(`The date in the address must be written YYYY-MM-DD, not ${q.get("date")}`);
  state.known = q.get("known_at");
  state.unit = q.get("unit");
}

function writeUrl() {
  const q = new URLSearchParams();
  if (state.org) q.set("org", state.org);
  if (state.date) q.set("date", state.date);
  if (state.known) q.set("known_at", state.known);
  if (state.unit) q.set("unit", state.unit);
  window.history.replaceState(null, "", `${window.location.pathname}?${q}`);
}

// --- loading ---------------------------------------------------------------------------------

async function init() {
  readUrl();
  try {
    const { orgs } = await api("/v1/orgs");
    const select = $("org");
    select.replaceChildren(...orgs.map((o) => {
      const option = el("option", o.name);
      option.value = o.slug;
      return option;
    }));
    if (!orgs.length) {
      $("status").textContent = "No organizations are recorded yet.";
      return;
    }
    if (!state.org || !orgs.some((o) => o.slug === state.org)) state.org = await defaultOrg(orgs);
    select.value = state.org;
    await loadOrg();
  } catch (e) {
    showError(e);
  }
}

const unitsCache = new Map();
async function unitsOf(org) {
  if (!unitsCache.has(org)) unitsCache.set(org, api(`/v1/orgs/${enc(org)}/units`).then((d) => d.units));
  return unitsCache.get(org);
}

// The first organization with a board: the page opens on something to look at.
async function defaultOrg(orgs) {
  const first = orgs.slice(0, 20);
  const units = await Promise.all(first.map((o) => unitsOf(o.slug)));
  const i = units.findIndex((list) => list.some((u) => u.kind === "board"));
  return first[i < 0 ? 0 : i].slug;
}

// The answers as of the date first (they need only the units), the timeline and chart beside them.
async function loadOrg(fresh) {
  const org = state.org;
  if (fresh) unitsCache.delete(org); // units formed since the page opened
  data = { ...data, units: await unitsOf(org) };
  if (org !== state.org) return;
  if (!state.date) state.date = today();
  await Promise.all([renderAsOf(), loadHistory()]);
}

async function loadHistory() {
  const org = state.org;
  const known = knownParam();
  const [units, timeline, changes, imports] = await Promise.all([
    unitsOf(org),
    api(`/v1/orgs/${enc(org)}/timeline`, { known_at: known, limit: 10000 }),
    api(`/v1/orgs/${enc(org)}/changes`, { from: "1000-01-01", to: "9999-12-31", known_at: known }),
    api(`/v1/orgs/${enc(org)}/imports`),
  ]);
  if (org !== state.org) return;
  const names = new Map(changes.changes.map((c) => [c.person, c.name]));
  const days = [...timeline.events.map((e) => lowOf(e.effective)), ...changes.changes.map((c) => lowOf(c.date))]
    .filter(Boolean).sort();
  const min = days.length ? addDays(days[0], -365) : "2000-01-01";
  const last = days.length ? days[days.length - 1] : today();
  data = { units, events: timeline.events, changes: changes.changes, imports: imports.imports,
           names, min, max: last > today() ? addDays(last, 365) : today() };
  const slider = $("slider");
  slider.min = String(dayNumber(data.min));
  slider.max = String(dayNumber(data.max));
  slider.value = String(dayNumber(state.date));
  fillUnits();
  fillImports();
  renderTimeline();
  renderChart();
}

function fillUnits() {
  const select = $("unit");
  select.replaceChildren(el("option", "All units and roles", { value: "" }), el("option", "Roles", { value: "-" }),
    ...data.units.map((u) => {
      const option = el("option", u.name);
      option.value = u.slug;
      return option;
    }));
  if (state.unit && ![...select.options].some((o) => o.value === state.unit)) state.unit = null;
  select.value = state.unit || "";
}

// The unit in focus: a unit's slug, "-" for the organization's roles, null for everything.
function inFocus(unit) { return !state.unit || (state.unit === "-" ? !unit : unit === state.unit); }

function fillImports() {
  const select = $("imports");
  select.replaceChildren(el("option", "As of an import…", { value: "" }), ...data.imports.map((i) => {
    const option = el("option", `${i.source} (${i.format}), ${i.recorded_at}`);
    option.value = i.recorded_at;
    return option;
  }));
  select.hidden = data.imports.length === 0;
}

// --- the answers as of the date --------------------------------------------------------------

async function renderAsOf() {
  const mine = ++renderSeq;
  const org = state.org;
  const params = { as_of: state.date, known_at: knownParam() };
  syncControls();
  writeUrl();
  const boardUnits = data.units.filter((u) => u.kind === "board");
  const others = data.units.filter((u) => u.kind !== "board");
  $("status").textContent = `Loading ${state.date}…`;
  try {
    const [board, roles, ...rosters] = await Promise.all([
      boardUnits.length ? api(`/v1/orgs/${enc(org)}/board`, params) : Promise.resolve(null),
      api(`/v1/orgs/${enc(org)}/roles`, params),
      ...others.map((u) => api(`/v1/orgs/${enc(org)}/units/${enc(u.slug)}/members`, params)),
    ]);
    if (mine !== renderSeq) return;
    renderBoard(board, boardUnits);
    renderRoles(roles);
    renderTeams(others, rosters);
    moveChartLine();
    clearError();
    $("status").textContent = `As of ${state.date}` + (state.known ? `, as the record stood at ${state.known}.` : ", as known now.");
    if (firstRender) {
      firstRender = false;
      document.body.dataset.firstRenderMs = String(Math.round(performance.now()));
    }
  } catch (e) {
    if (mine === renderSeq) {
      showError(e);
      $("status").textContent = "";
    }
  }
}

function badges(entry) {
  const out = [];
  if (!entry.certain) {
    out.push(el("span", "uncertain", { class: "badge badge-uncertain",
      title: "The dates are imprecise: they may or may not have held it on this day" }));
  }
  if (entry.disputed) {
    out.push(el("span", "disputed", { class: "badge badge-disputed", title: "Sources disagree about this tenure" }));
  }
  if (entry.until) out.push(el("span", `leaves ${entry.until}${entry.cause ? ` (${entry.cause})` : ""}`, { class: "note" }));
  return out;
}

function personButton(entry, unit) {
  const b = el("button", entry.name, { type: "button", class: "person", "data-person": entry.person });
  b.addEventListener("click", () => showWhy(unit, entry.person));
  return b;
}

function rosterRow(entry, unit, roleFirst) {
  const tr = el("tr");
  if (!entry.certain) tr.classList.add("uncertain");
  if (entry.disputed) tr.classList.add("disputed");
  const who = el("td");
  who.append(personButton(entry, unit));
  const role = el("td", entry.role);
  tr.append(...(roleFirst ? [role, who] : [who, role]), el("td", entry.since), el("td", entry.until || "—"));
  const notes = el("td");
  notes.append(...badges(entry));
  tr.append(notes);
  return tr;
}

// A roster's table (the board's, the roles', each team's): a caption for screen readers, the
// column heads (the role first, for organization roles), and a body for rosterRow's rows.
function rosterTable(caption, roleFirst, id) {
  const table = el("table", null, { class: "roster", ...(id ? { id } : {}) });
  const heads = el("tr");
  for (const h of [...(roleFirst ? ["Role", "Name"] : ["Name", "Role"]), "Since", "Until", "Notes"]) {
    heads.append(el("th", h, { scope: "col" }));
  }
  const head = el("thead");
  head.append(heads);
  table.append(el("caption", caption, { class: "sr-only" }), head, el("tbody"));
  return table;
}

function say(id, text) {
  const p = $(id);
  p.textContent = text || "";
  p.hidden = !text;
}

function renderBoard(board, boardUnits) {
  const body = $("board").tBodies[0];
  const orgName = $("org").selectedOptions[0] ? $("org").selectedOptions[0].textContent : state.org;
  if (!board) {
    body.replaceChildren();
    $("board").hidden = true;
    say("board-empty", `${orgName} has no board on record.`);
    return;
  }
  const seats = [...board.directors, ...board.observers];
  const unit = boardUnits.length === 1 ? boardUnits[0].slug : null;
  body.replaceChildren(...seats.map((e) => rosterRow(e, e.unit || unit, false)));
  $("board").hidden = seats.length === 0;
  let why = "";
  if (!seats.length) {
    const formed = boardUnits.map((u) => lowOf(u.formed)).filter(Boolean).sort()[0];
    why = formed && formed > state.date ? `The board was formed on ${formed}, after this date.`
      : `No one sat on the board on ${state.date}, as recorded.`;
  }
  say("board-empty", why);
}

function renderRoles(roles) {
  const held = roles.roles;
  $("roles").tBodies[0].replaceChildren(...held.map((e) => rosterRow(e, null, true)));
  $("roles").hidden = held.length === 0;
  say("roles-empty", held.length ? "" : `No one held a recorded role on ${state.date}.`);
}

function renderTeams(units, rosters) {
  const box = $("teams");
  if (!units.length) {
    box.replaceChildren(el("p", "No teams or committees are recorded for this organization.", { class: "empty" }));
    return;
  }
  box.replaceChildren(...units.map((u, i) => {
    const section = el("section", null, { class: "team", "aria-label": u.name });
    section.append(el("h3", `${u.name} `), el("p", `${u.kind}${u.mandate ? `: ${u.mandate}` : ""}`, { class: "hint" }));
    const members = rosters[i].members;
    const formed = lowOf(u.formed);
    const dissolved = lowOf(u.dissolved);
    let why = "";
    if (dissolved && dissolved <= state.date) why = `Dissolved on ${u.dissolved}.`;
    else if (formed && formed > state.date) why = `Not yet formed on ${state.date} (formed ${u.formed}).`;
    else if (!members.length) why = `No members on ${state.date}, as recorded.`;
    if (why) section.append(el("p", why, { class: "empty" }));
    if (members.length) {
      const table = rosterTable(`${u.name} on ${state.date}`, false);
      table.tBodies[0].append(...members.map((e) => rosterRow(e, u.slug, false)));
      section.append(table);
    }
    return section;
  }));
}

// --- evidence --------------------------------------------------------------------------------

function sourceItem(s) {
  const li = el("li");
  const label = s.publisher || s.title || s.url || "a source";
  const href = s.url ? safeUrl(s.url) : null;
  li.append(href ? el("a", label, { href, rel: "noopener noreferrer", target: "_blank", class: "source" }) : el("span", label));
  if (s.title && s.publisher) li.append(` — ${s.title}`);
  if (s.published) li.append(`, published ${s.published}`);
  if (s.quote) li.append(" ", el("q", s.quote));
  return li;
}

function factItem(f) {
  const li = el("li", null, { class: "fact" });
  li.append(el("strong", `${f.effective || "undated"} · ${f.type.replaceAll("_", " ")}`), ` (${f.id}, ${f.confidence})`);
  if (f.note) li.append(el("p", f.note, { class: "note" }));
  if (f.sources && f.sources.length) {
    const ul = el("ul", null, { class: "sources" });
    ul.append(...f.sources.map(sourceItem));
    li.append(ul);
  }
  li.append(el("p", `recorded ${f.recorded_at}`, { class: "hint" }));
  for (const c of f.corrections || []) {
    li.append(el("p", `corrected by ${c.id} (recorded ${c.recorded_at}): ${JSON.stringify(c.changes)}`, { class: "correction" }));
  }
  return li;
}

async function showWhy(unit, person) {
  const body = $("evidence-body");
  const org = state.org;
  const path = unit ? `/v1/orgs/${enc(org)}/units/${enc(unit)}/members/${enc(person)}/why`
    : `/v1/orgs/${enc(org)}/roles/${enc(person)}/why`;
  body.replaceChildren(el("p", "Loading…", { class: "hint" }));
  try {
    const why = await api(path, { as_of: state.date, known_at: knownParam() });
    const where = unit ? unitName(unit) : "a role";
    const out = [el("h3", why.name || person),
      el("p", why.holds ? `On ${why.as_of}, held ${where}` + (why.disputed ? " (disputed)." : ".")
        : `On ${why.as_of}, did not hold ${where}.`, { class: why.holds ? "holds" : "holds-not" })];
    if (why.tenures && why.tenures.length) {
      const ul = el("ul");
      ul.append(...why.tenures.map((t) => el("li", `${t.role}: ${t.since} – ${t.until || "open"}${t.cause ? ` (${t.cause})` : ""}${t.certain ? "" : ", uncertain"}`)));
      out.push(el("h4", "Tenures"), ul);
    }
    const ol = el("ol", null, { class: "chain" });
    ol.append(...(why.chain || []).map(factItem));
    out.push(el("h4", "The events behind it"), ol);
    if (why.knowledge && why.knowledge.length) {
      const ul = el("ul");
      ul.append(...why.knowledge.map((k) => el("li", `${k.role}: ${k.since} – ${k.until || "open"}, believed from ${k.recorded_from} to ${k.recorded_to || "now"}`)));
      out.push(el("h4", "What the record said, and when"), ul);
    }
    body.replaceChildren(...out);
    clearError();
  } catch (e) {
    body.replaceChildren();
    showError(e);
  }
}

// --- the timeline ----------------------------------------------------------------------------

function describe(e) {
  const who = e.person ? personName(e.person) : "";
  switch (e.type) {
    case "unit_formed": return `${e.name} formed (${e.kind})`;
    case "unit_dissolved": return `${unitName(e.unit)} dissolved`;
    case "member_joined": return `${who} joined ${unitName(e.unit)}${e.role && e.role !== "member" ? ` as ${e.role}` : ""}`;
    case "member_left": return `${who} left ${unitName(e.unit)}${e.cause ? ` (${e.cause})` : ""}`;
    case "role_assigned": return `${who} became ${e.role}`;
    case "role_ended": return `${who} is no longer ${e.role}`;
    case "noted": return e.title || "a note";
    default: {
      const bits = [e.type.replaceAll("_", " ")];
      if (who) bits.push(who);
      if (e.unit) bits.push(unitName(e.unit));
      if (e.role) bits.push(e.role);
      return bits.join(", ");
    }
  }
}

function renderTimeline() {
  const list = $("timeline");
  if (!data.events.length) {
    list.replaceChildren(el("li", "No events recorded.", { class: "empty" }));
    return;
  }
  list.replaceChildren(...data.events.map((e) => {
    const li = el("li");
    const day = lowOf(e.effective);
    const go = el("button", e.effective || "undated", { type: "button", class: "when" });
    if (day) {
      go.setAttribute("aria-label", `Show ${day}: ${describe(e)}`);
      go.addEventListener("click", () => setDate(day));
    } else {
      go.disabled = true;
    }
    li.append(go, " ", el("span", describe(e), { class: "what" }),
      el("span", ` ${e.id} · ${e.confidence} · recorded ${e.recorded_at}`, { class: "hint" }));
    if (e.sources && e.sources.length) {
      const ul = el("ul", null, { class: "sources" });
      ul.append(...e.sources.map(sourceItem));
      li.append(ul);
    }
    return li;
  }));
}

// --- the tenure chart ------------------------------------------------------------------------

const CHART = { left: 230, right: 16, row: 18, top: 24 };

function tenureBars() {
  return allTenureBars().filter((b) => inFocus(b.unit));
}

function allTenureBars() {
  // Pair each join with the next leave of the same person, unit and role, in date order; a
  // leave with no join before it started before anything recorded (drawn as such).
  const open = new Map();
  const bars = [];
  for (const c of data.changes) {
    const key = `${c.unit || ""}\u0000${c.person}\u0000${c.role}`;
    if (c.change === "joined") {
      open.set(key, { unit: c.unit, person: c.person, name: c.name, role: c.role, start: c.date,
                      disputed: c.disputed });
    } else {
      const bar = open.get(key) || { unit: c.unit, person: c.person, name: c.name, role: c.role, start: null,
                                     disputed: c.disputed };
      open.delete(key);
      bars.push({ ...bar, end: c.date, cause: c.cause, disputed: bar.disputed || c.disputed });
    }
  }
  for (const bar of open.values()) bars.push({ ...bar, end: null });
  return bars;
}

function renderChart() {
  const wrap = $("chart-wrap");
  const bars = tenureBars();
  if (!bars.length) {
    wrap.replaceChildren(el("p", "No tenures are recorded for this organization.", { class: "empty" }));
    return;
  }
  const groups = new Map();
  for (const b of bars) {
    const label = b.unit ? unitName(b.unit) : "Roles";
    if (!groups.has(label)) groups.set(label, []);
    groups.get(label).push(b);
  }
  const width = Math.max(640, wrap.clientWidth || 900);
  let rows = 0;
  for (const list of groups.values()) rows += list.length + 1;
  const height = CHART.top + rows * CHART.row + 8;
  const lo = dayNumber(data.min);
  const hi = dayNumber(data.max);
  const x = (iso) => CHART.left + ((dayNumber(iso) - lo) / Math.max(1, hi - lo)) * (width - CHART.left - CHART.right);
  const svg = svgEl("svg", { id: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
                             "aria-labelledby": "chart-title" });
  svg.append(svgEl("title", { id: "chart-title" }, `Tenures in ${state.org}, ${data.min} to ${data.max}`));
  for (let year = +data.min.slice(0, 4) + 1; year <= +data.max.slice(0, 4); year++) {
    if ((year % 5) && hi - lo > 20 * 365) continue;
    const gx = x(`${year}-01-01`);
    svg.append(svgEl("line", { x1: gx, x2: gx, y1: CHART.top - 6, y2: height, class: "grid" }),
               svgEl("text", { x: gx + 2, y: CHART.top - 10, class: "axis" }, year));
  }
  let y = CHART.top;
  for (const [label, list] of groups) {
    svg.append(svgEl("text", { x: 4, y: y + 13, class: "group" }, label));
    y += CHART.row;
    list.sort((a, b) => (lowOf(a.start) || "").localeCompare(lowOf(b.start) || "") || a.name.localeCompare(b.name));
    for (const b of list) {
      // the label opens the evidence: why they held it, or on the chosen date why not
      const label = svgEl("text", { x: 12, y: y + 13, class: "label", tabindex: 0, role: "button",
                                    "aria-label": `Evidence for ${b.name}, ${b.role}` }, `${b.name} · ${b.role}`);
      const open = () => showWhy(b.unit, b.person);
      label.addEventListener("click", (ev) => { ev.stopPropagation(); open(); });
      label.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); open(); } });
      svg.append(label);
      const startLo = lowOf(b.start) || data.min;
      const startHi = highOf(b.start) || startLo;
      const endLo = b.end ? lowOf(b.end) || data.max : data.max;
      const endHi = b.end ? highOf(b.end) || endLo : data.max;
      const g = svgEl("g", { class: `bar${b.disputed ? " disputed" : ""}` });
      g.append(svgEl("title", {}, `${b.name}, ${b.role}${b.unit ? ` in ${unitName(b.unit)}` : ""}: ${b.start || "start unknown"} to ${b.end || "now"}${b.cause ? ` (${b.cause})` : ""}${b.disputed ? ", disputed" : ""}`));
      g.append(svgEl("rect", { x: x(startHi), y: y + 3, width: Math.max(1, x(endLo) - x(startHi)), height: CHART.row - 6, class: "solid" }));
      if (!b.start) { // began before anything recorded: a faded lead-in, not a date
        g.append(svgEl("rect", { x: x(startLo), y: y + 3, width: 24, height: CHART.row - 6, class: "unknown" }));
      } else if (!precise(b.start)) {
        g.append(svgEl("rect", { x: x(startLo), y: y + 3, width: Math.max(2, x(startHi) - x(startLo)), height: CHART.row - 6, class: "fuzzy" }));
      }
      if (b.end && !precise(b.end)) {
        g.append(svgEl("rect", { x: x(endLo), y: y + 3, width: Math.max(2, x(endHi) - x(endLo)), height: CHART.row - 6, class: "fuzzy" }));
      }
      if (!b.end) {
        const ex = x(data.max);
        g.append(svgEl("path", { d: `M${ex} ${y + 1} L${ex + 8} ${y + CHART.row / 2} L${ex} ${y + CHART.row - 1} Z`, class: "open" }));
      }
      svg.append(g);
      y += CHART.row;
    }
  }
  svg.append(svgEl("line", { id: "chart-line", x1: 0, x2: 0, y1: CHART.top - 6, y2: height, class: "now" }));
  svg.addEventListener("click", (ev) => {
    const box = svg.getBoundingClientRect();
    const px = (ev.clientX - box.left) * (width / box.width);
    if (px < CHART.left) return;
    const n = lo + Math.round(((px - CHART.left) / (width - CHART.left - CHART.right)) * (hi - lo));
    setDate(dayText(Math.min(hi, Math.max(lo, n))));
  });
  wrap.replaceChildren(svg);
  chartScale = x;
  moveChartLine();
}

let chartScale = null;
function moveChartLine() {
  const line = $("chart-line");
  if (!line || !chartScale || !state.date) return;
  const px = chartScale(state.date);
  line.setAttribute("x1", px);
  line.setAttribute("x2", px);
}

// --- comparing two dates ---------------------------------------------------------------------

async function compare(ev) {
  if (ev) ev.preventDefault();
  const from = $("compare-from").value;
  const to = $("compare-to").value;
  const box = $("compare");
  if (!ISO_DAY.test(from) || !ISO_DAY.test(to)) {
    showError("Both dates to compare are needed (YYYY-MM-DD).");
    return;
  }
  if (to < from) {
    showError("The second date to compare must not be before the first.");
    return;
  }
  try {
    const answer = await api(`/v1/orgs/${enc(state.org)}/changes`, { from, to, known_at: knownParam() });
    const groups = new Map();
    for (const c of answer.changes.filter((x) => inFocus(x.unit))) {
      const label = c.unit ? unitName(c.unit) : "Roles";
      if (!groups.has(label)) groups.set(label, { joined: [], left: [] });
      groups.get(label)[c.change === "joined" ? "joined" : "left"].push(c);
    }
    if (!groups.size) {
      box.replaceChildren(el("p", `No one joined or left between ${from} and ${to}.`, { class: "empty" }));
      clearError();
      return;
    }
    box.replaceChildren(...[...groups].map(([label, g]) => {
      const section = el("section", null, { class: "compare-unit" });
      section.append(el("h3", label));
      for (const [kind, title] of [["joined", "Joined"], ["left", "Left"]]) {
        if (!g[kind].length) continue;
        const ul = el("ul", null, { class: kind });
        ul.append(...g[kind].map((c) => el("li", `${c.name} (${c.role}) on ${c.date}${c.cause ? `, ${c.cause}` : ""}${c.disputed ? ", disputed" : ""}`)));
        section.append(el("h4", title), ul);
      }
      return section;
    }));
    clearError();
  } catch (e) {
    showError(e);
  }
}

// --- controls --------------------------------------------------------------------------------

function syncControls() {
  $("date").value = state.date;
  $("slider").value = String(dayNumber(state.date));
  $("slider").setAttribute("aria-valuetext", state.date);
  $("known").value = state.known ? state.known.replace(/Z$/, "").slice(0, 19) : "";
  if (!$("compare-to").value) $("compare-to").value = state.date;
  if (!$("compare-from").value) $("compare-from").value = addDays(state.date, -365);
}

let pending = null;
function setDate(iso, delay) {
  if (!ISO_DAY.test(iso)) return;
  state.date = iso;
  $("date").value = iso;
  $("slider").setAttribute("aria-valuetext", iso);
  moveChartLine();
  clearTimeout(pending);
  pending = setTimeout(renderAsOf, delay || 0);
}

function setKnown(value) {
  state.known = value || null;
  loadOrg(true).catch(showError);
}

$("org").addEventListener("change", () => {
  state.org = $("org").value;
  state.unit = null;
  $("evidence-body").replaceChildren(el("p", "Choose a person to see why they are there, or why not.", { class: "empty" }));
  loadOrg(true).catch(showError);
});
$("date").addEventListener("change", () => {
  const v = $("date").value;
  if (!v) {
    showError("Choose a date (YYYY-MM-DD) to see the organization on that day.");
    return;
  }
  setDate(v);
});
$("slider").addEventListener("input", () => setDate(dayText(+$("slider").value), 120));
$("slider").addEventListener("keydown", (ev) => {
  if (ev.key !== "PageUp" && ev.key !== "PageDown") return;
  ev.preventDefault();
  const n = +$("slider").value + (ev.key === "PageUp" ? 30 : -30);
  const clamped = Math.min(+$("slider").max, Math.max(+$("slider").min, n));
  $("slider").value = String(clamped);
  setDate(dayText(clamped), 120);
});
$("known").addEventListener("change", () => {
  const v = $("known").value;
  // the end of that second, so what was recorded during it counts as known
  setKnown(v ? `${v.length === 16 ? `${v}:00` : v}.999999Z` : null);
});
$("unit").addEventListener("change", () => {
  state.unit = $("unit").value || null;
  writeUrl();
  renderChart();
  if ($("compare").childElementCount) compare();
});
$("imports").addEventListener("change", () => { if ($("imports").value) setKnown($("imports").value); });
$("known-now").addEventListener("click", () => setKnown(null));
$("controls").addEventListener("submit", (ev) => { ev.preventDefault(); renderAsOf(); });
$("compare-form").addEventListener("submit", compare);

$("board-empty").after(rosterTable("Board members on the chosen date", false, "board"));
$("roles-empty").after(rosterTable("Organization roles on the chosen date", true, "roles"));
init();

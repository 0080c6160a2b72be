// The page's script, a file of its own so that the Content-Security-Policy can forbid inline ones.
// Text from the API is set as text (textContent, option labels), never parsed as HTML.
const $ = (id) => document.getElementById(id);
async function j(u) { const r = await fetch(u); return r.json(); }
function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}
function fill(select, options) { select.replaceChildren(...options.map(([value, label]) => { const o = el("option", label); o.value = value; return o; })); }
async function orgs() {
  const d = await j("/v1/orgs");
  fill($("org"), d.orgs.map((o) => [o.slug, o.name]));
  await units();
}
async function units() {
  const d = await j(`/v1/orgs/${encodeURIComponent($("org").value)}/units`);
  fill($("unit"), [["", "(board)"], ...d.units.map((u) => [u.slug, u.name])]);
}
async function show(e) {
  if (e) e.preventDefault();
  const o = encodeURIComponent($("org").value), u = $("unit").value, d = encodeURIComponent($("asof").value);
  const r = await j(u ? `/v1/orgs/${o}/units/${encodeURIComponent(u)}/members?as_of=${d}` : `/v1/orgs/${o}/board?as_of=${d}`);
  const rows = u ? r.members : [...r.directors, ...r.observers];
  $("t").tBodies[0].replaceChildren(...rows.map((x) => {
    const tr = el("tr", undefined, x.certain ? {} : { class: "uncertain" });
    for (const v of [x.name, x.role, x.since, x.until || "", x.certain]) tr.append(el("td", v));
    const ev = el("td");
    for (const i of x.evidence) {
      const sources = ((r.evidence[i] || {}).sources || []).map((s) => s.publisher || s.url || s.title).join("; ");
      ev.append(el("span", i, { title: sources }), " ");
    }
    tr.append(ev);
    return tr;
  }));
}
$("f").onsubmit = show;
$("org").onchange = units;
orgs().then(() => show());

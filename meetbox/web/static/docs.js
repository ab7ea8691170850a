// Renders /openapi.json as a readable list of operations. Text is inserted as text, never markup.
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
};
const json = (value) => el("pre", { textContent: JSON.stringify(value, null, 2) });

const response = await fetch("/openapi.json");
const spec = await response.json();
document.getElementById("about").textContent = `${spec.info.description} (version ${spec.info.version})`;
const byTag = new Map();
for (const [path, methods] of Object.entries(spec.paths)) {
  for (const [method, op] of Object.entries(methods)) {
    const tag = op.tags?.[0] ?? "other";
    if (!byTag.has(tag)) byTag.set(tag, []);
    byTag.get(tag).push({ path, method, op });
  }
}
const main = document.getElementById("operations");
main.textContent = "";
for (const [tag, ops] of byTag) {
  main.append(el("h2", { textContent: tag }));
  for (const { path, method, op } of ops) {
    const body = el("div", { className: "body" });
    if (op.description) body.append(el("p", { textContent: op.description }));
    const auth = (op.security ?? []).map((s) => Object.keys(s)[0]).join(" or ") || "none";
    body.append(el("p", { textContent: `Authorization: ${auth}` }));
    if (op.parameters?.length) {
      const table = el("table", {}, el("tr", {}, el("th", { textContent: "parameter" }),
        el("th", { textContent: "in" }), el("th", { textContent: "schema" })));
      for (const p of op.parameters) {
        table.append(el("tr", {}, el("td", { textContent: p.name + (p.required ? " *" : "") }),
          el("td", { textContent: p.in }), el("td", { textContent: JSON.stringify(p.schema) })));
      }
      body.append(table);
    }
    const content = op.requestBody?.content;
    if (content) {
      const [type, media] = Object.entries(content)[0];
      body.append(el("h4", { textContent: `Body (${type})` }), json(media.schema));
    }
    body.append(el("h4", { textContent: "Responses" }));
    for (const [status, r] of Object.entries(op.responses)) {
      body.append(el("p", { textContent: `${status}: ${r.description}` }));
    }
    main.append(el("details", {}, el("summary", {},
      el("span", { className: `method ${method}`, textContent: method.toUpperCase() }),
      el("span", { className: "path", textContent: path }),
      el("span", { textContent: op.summary })), body));
  }
}

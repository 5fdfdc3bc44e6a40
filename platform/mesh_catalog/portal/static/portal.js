// The portal's only script: every page reads without it. It marks the current page in the menu,
// copies examples to the clipboard, and highlights a node's upstream and downstream in the lineage graph.
"use strict";

(function markCurrentPage() {
  const path = window.location.pathname;
  for (const link of document.querySelectorAll("header nav a[data-nav]")) {
    const nav = link.dataset.nav;
    const current = nav === "home" ? /\/portal\/?$|\/portal\/products\//.test(path) : path.includes("/" + nav);
    link.classList.toggle("active", current);
  }
})();

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const code = button.closest(".example").querySelector("pre code");
  const done = () => { button.textContent = "copied"; setTimeout(() => { button.textContent = "copy"; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(code.textContent).then(done, () => selectText(code));
  } else {
    selectText(code);  // plain http on a laptop: select it, so Ctrl-C copies
    button.textContent = "selected";
  }
});

function selectText(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

(function lineageGraph() {
  const svg = document.getElementById("lineage-graph");
  if (!svg) return;
  const edges = [...svg.querySelectorAll(".edge")];
  const nodes = new Map([...svg.querySelectorAll(".node")].map((n) => [n.dataset.node, n]));
  const label = document.getElementById("selection");

  function walk(start, near, far) {
    const seen = new Set([start]);
    const lit = [];
    const queue = [start];
    while (queue.length) {
      const current = queue.shift();
      for (const edge of edges) {
        if (edge.dataset[near] !== current) continue;
        lit.push(edge);
        const next = edge.dataset[far];
        if (!seen.has(next)) { seen.add(next); queue.push(next); }
      }
    }
    return { seen, lit };
  }

  function select(id) {
    for (const el of svg.querySelectorAll(".lit, .chosen")) el.classList.remove("lit", "chosen");
    if (!id || !nodes.has(id)) { svg.classList.remove("selecting"); label.textContent = "Nothing selected."; return; }
    const up = walk(id, "target", "source");
    const down = walk(id, "source", "target");
    svg.classList.add("selecting");
    for (const nodeId of new Set([...up.seen, ...down.seen])) nodes.get(nodeId)?.classList.add("lit");
    for (const edge of [...up.lit, ...down.lit]) edge.classList.add("lit");
    nodes.get(id).classList.add("chosen");
    label.textContent = `${id}: made from ${up.seen.size - 1} node(s), used by ${down.seen.size - 1} node(s). Click it again to open it, or elsewhere to clear.`;
  }

  let chosen = null;
  svg.addEventListener("click", (event) => {
    const node = event.target.closest(".node");
    const id = node ? node.dataset.node : null;
    if (id && id === chosen) return;  // the second click follows the product's link
    event.preventDefault();
    chosen = id;
    select(id);
  });
  svg.addEventListener("keydown", (event) => {
    const node = event.target.closest(".node");
    if (node && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); chosen = node.dataset.node; select(chosen); }
  });
  const fromHash = decodeURIComponent(window.location.hash.replace(/^#node-/, ""));
  if (fromHash && nodes.has(fromHash)) { chosen = fromHash; select(fromHash); }
})();

(function graphqlConsole() {
  const form = document.getElementById("graphql-console");
  if (!form) return;
  const status = document.getElementById("graphql-status");
  const result = document.querySelector("#graphql-result code");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "running…";
    try {
      const answer = await fetch("/graphql", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ query: document.getElementById("graphql-query").value }),
      });
      const body = await answer.json();
      result.textContent = JSON.stringify(body, null, 2);
      status.textContent = body.errors ? `${body.errors.length} error(s)` : `HTTP ${answer.status}`;
    } catch (error) {
      status.textContent = "the catalog did not answer";
      result.textContent = String(error);
    }
  });
})();

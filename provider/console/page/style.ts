// The console's style: readable at 1280x800 and on a narrow window (tables scroll sideways, the
// database cards stack), with visible focus and enough contrast.
export const PAGE_CSS = `
:root { color-scheme: light; --fg: #1b1b1b; --muted: #555; --line: #d0d0d0; --accent: #0b5cad; --bad: #a4262c; --ok: #107c10; --warn: #8a5300; }
* { box-sizing: border-box; }
/* a long unbroken token (a kept fence's lift statement, with its quoted names) wraps rather than widening the page */
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #fafafa; overflow-wrap: anywhere; }
.top { display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; align-items: baseline; padding: 0.6rem 1.2rem; background: #fff; border-bottom: 1px solid var(--line); }
.brand { font-weight: 600; color: var(--fg); text-decoration: none; }
#connection { margin: 0; color: var(--muted); }
#connection.down { color: var(--bad); font-weight: 600; }
main { padding: 0.5rem 1.2rem 2rem; max-width: 1400px; }
h1 { font-size: 1.4rem; margin: 0.6rem 0; } h2 { font-size: 1.1rem; margin: 1.4rem 0 0.5rem; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; white-space: nowrap; }
.filter { border: 0; padding: 0; margin: 0 0 0.6rem; display: flex; gap: 1rem; }
.filter legend { float: left; margin-right: 0.5rem; color: var(--muted); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; margin: 0; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; }
.actions { display: flex; flex-wrap: wrap; gap: 0.6rem; align-items: center; margin: 1rem 0; }
button { font: inherit; padding: 0.45rem 1rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button:disabled { background: #e6e6e6; border-color: #bdbdbd; color: #5c5c5c; cursor: not-allowed; }
button.danger { background: var(--bad); border-color: var(--bad); }
form button[value="back"] { background: #fff; color: var(--accent); }
.note { color: var(--muted); margin: 0; }
.error { color: var(--bad); }
#databases { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 26rem), 1fr)); gap: 1rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 0.8rem 1rem; }
.card h3 { margin: 0 0 0.4rem; font-size: 1.05rem; }
.bar { height: 0.7rem; background: #e6e6e6; border-radius: 4px; overflow: hidden; margin: 0.3rem 0; }
.bar > span { display: block; height: 100%; background: var(--accent); }
.counters { display: flex; flex-wrap: wrap; gap: 0.3rem 1.2rem; margin: 0.4rem 0 0; }
.counters div { display: flex; flex-direction: column; } .counters dt { color: var(--muted); font-size: 0.85rem; } .counters dd { margin: 0; font-variant-numeric: tabular-nums; font-weight: 600; }
.window { border-top: 1px solid var(--line); margin-top: 0.6rem; padding-top: 0.4rem; }
.window h4 { margin: 0; font-size: 0.95rem; }
.status-Open { color: var(--ok); } .status-Stopped { color: var(--bad); font-weight: 600; } .status-FallingBack { color: var(--warn); }
.steps { display: flex; flex-wrap: wrap; gap: 0.2rem 1rem; list-style: none; padding: 0; margin: 0.5rem 0 0; font-size: 0.9rem; }
.step-done { color: var(--ok); } .step-now { color: var(--warn); font-weight: 600; } .step-next { color: var(--muted); }
#action-note span { display: block; }
#charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 36rem), 1fr)); gap: 1rem; }
figure.chart { margin: 0; }
.chart { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem; min-width: 0; }
.status-Failed, .status-bad { color: var(--bad); font-weight: 600; } .status-Succeeded, .status-ok { color: var(--ok); } .status-Warning { color: var(--warn); }
dialog { max-width: min(36rem, 92vw); border: 1px solid var(--line); border-radius: 6px; }
dialog::backdrop { background: rgb(0 0 0 / 35%); }
@media (max-width: 640px) { main { padding: 0.5rem 0.6rem 2rem; } th, td { padding: 0.3rem 0.4rem; } }
`;

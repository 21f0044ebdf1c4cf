// The console's one page: a shell with no data in it. The script (client.ts, compiled) fills it
// from the console's API; everything it loads is served by the console itself.
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pgferry console</title>
<link rel="stylesheet" href="/assets/uPlot.css">
<link rel="stylesheet" href="/assets/console.css">
<script src="/assets/uPlot.js" defer></script>
<script src="/assets/console.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="#/">pgferry console</a>
  <p id="connection" role="status" aria-live="polite"></p>
</header>
<main>
  <section id="grid-view" aria-labelledby="grid-title">
    <h1 id="grid-title">Migrations</h1>
    <fieldset class="filter">
      <legend>Show</legend>
      <label><input type="radio" name="filter" value="active" checked> Active</label>
      <label><input type="radio" name="filter" value="all"> All</label>
    </fieldset>
    <div class="scroll">
      <table id="grid">
        <thead><tr><th scope="col">Name</th><th scope="col">Mode</th><th scope="col">State</th><th scope="col">Substate</th><th scope="col">Databases</th><th scope="col">Started</th><th scope="col">Ended</th></tr></thead>
        <tbody></tbody>
      </table>
    </div>
    <p id="grid-empty" hidden>No migration to show.</p>
  </section>
  <section id="migration-view" hidden aria-labelledby="migration-title">
    <p><a href="#/">&larr; All migrations</a></p>
    <h1 id="migration-title"></h1>
    <dl id="summary" class="facts"></dl>
    <div class="actions" role="group" aria-label="Actions">
      <button type="button" id="cutover" data-action="cutover" disabled>Cutover</button>
      <button type="button" id="cancel" data-action="cancel" disabled>Cancel migration</button>
      <button type="button" id="fallback" data-action="fall-back" disabled>Fall back</button>
      <button type="button" id="resume-forward" data-action="resume-forward" disabled>Resume forward</button>
      <button type="button" id="close-window" data-action="close-window" disabled>Close window</button>
      <p id="action-note" class="note"></p>
    </div>
    <h2>Databases</h2>
    <div id="databases"></div>
    <h2>Latency and pending bytes, last hour</h2>
    <p class="note">Recorded in the catalog by the migration's runner, one sample every 5 seconds while changes stream; each chart ends on the figures its database's counters show.</p>
    <div id="charts"></div>
    <h2>Validation</h2>
    <div id="validation" class="scroll"></div>
    <h2>Verification</h2>
    <div id="verification"></div>
    <h2>Runtime</h2>
    <div id="runtime"></div>
    <h2>Events</h2>
    <p class="note">The last 25, newest first: schema changes on the source, stops and retries among them.</p>
    <div id="events" class="scroll"></div>
  </section>
</main>
<dialog id="confirm" aria-labelledby="confirm-title">
  <form method="dialog">
    <h2 id="confirm-title"></h2>
    <p id="confirm-effect"></p>
    <p id="confirm-error" class="error" role="alert"></p>
    <div class="actions">
      <button type="submit" value="back">Back</button>
      <button type="button" id="confirm-go" class="danger"></button>
    </div>
  </form>
</dialog>
</body>
</html>
`;

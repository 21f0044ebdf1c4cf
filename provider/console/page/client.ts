/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The console page's script, run in the browser (compiled by the project's build as a plain script,
// no module loader). It polls the console's API every two seconds and renders with DOM calls and
// textContent only, so nothing read from the catalog can become markup. The token comes in the
// address's fragment, which the browser never sends; it is kept for this tab and sent in a header.
// The shapes below are those of provider/console/view.ts, as the browser receives them.
void (function consoleClient() {
  interface Action {
    allowed: boolean;
    why?: string;
    effect: string;
  }
  interface Row {
    name: string;
    mode: string;
    state: string;
    subState: string;
    databases: string[];
    startedAt?: string;
    endedAt?: string;
  }
  interface Database {
    database: string;
    state: string;
    message?: string;
    tables: { total: number; queued: number; loading: number; completed: number; errored: number };
    rowsCopied: number;
    bytesCopied: number;
    fraction?: number;
    totalBytes: number;
    etaSeconds?: number;
    inserts: number;
    updates: number;
    deletes: number;
    latencySeconds?: number;
    pendingBytes?: number;
    downtimeSeconds?: number;
    cutoverStep?: string;
    applyStop?: { code: string; table?: string; error: string; fix: string };
    notStreamed: { table: string; reason: string }[];
    cutoverSteps?: { step: string; state: 'done' | 'now' | 'next' }[];
    fallback?: {
      state: string;
      endsAt: string;
      latencySeconds?: number;
      pendingBytes?: number;
      retainedBytes?: number;
      message?: string;
      closedAt?: string;
      fellBackAt?: string;
      downtimeSeconds?: number;
      poolerPause?: { pausedAt: string; resumedOn: string; resumedAt?: string; pauseSeconds?: number };
    };
    fences: { server: 'source' | 'target'; line: string }[];
  }
  interface Page {
    name: string;
    mode: string;
    state: string;
    subState: string;
    startedAt?: string;
    endedAt?: string;
    option: string;
    message?: string;
    sourceVersion?: string;
    targetVersion?: string;
    downtimeSeconds?: number;
    actions: { cutover: Action; cancel: Action; fallBack: Action; resumeForward: Action; closeWindow: Action };
    cutOverBefore: boolean;
    databases: Database[];
    validation: { code: string; type: string; status: string; database?: string; message: string; fix?: string }[];
    verification?: {
      ok: boolean;
      tablesCompared: number;
      mismatches: { database: string; table: string; sourceRows: number; targetRows: number; reason?: string }[];
      firstMismatch?: string;
      schema: { database: string; objects: number; differences: { object: string; detail: string; fix: string }[]; expected: number }[];
      leftOut: number;
    };
    runtime: {
      runtime: string;
      runner?: { host: string; pid: number; heartbeatAt: string; alive: boolean };
      agents: { name: string; host: string; alive: boolean; heartbeatAt: string; itemsHeld: number; items: string[] }[];
      waiting?: string;
    };
  }
  interface Series {
    at: number[];
    latency: (number | null)[];
    pending: (number | null)[];
  }
  interface ConsoleEvent {
    at: string;
    level: string;
    database?: string;
    message: string;
  }
  interface Reading {
    readAt?: string;
    unreachable?: string;
    unreachableSince?: string;
    error?: string;
  }
  interface Chart {
    setData(data: (number | null)[][]): void;
    setSize(size: { width: number; height: number }): void;
  }
  type ChartMaker = new (options: object, data: (number | null)[][], into: HTMLElement) => Chart;

  const POLL_MS = 2000;
  const TOKEN_KEY = 'pgferry-console-token';
  const fromFragment = /token=([\w-]+)/.exec(location.hash)?.[1];
  if (fromFragment) {
    sessionStorage.setItem(TOKEN_KEY, fromFragment);
    history.replaceState(null, '', `${location.pathname}#/`);
  }
  const token = sessionStorage.getItem(TOKEN_KEY) ?? '';
  const charts = new Map<string, Chart>();
  /** Each button: its element id, the API path it posts to, its key in the page's actions, its name and the confirmation's. */
  const BUTTONS = [
    { id: 'cutover', path: 'cutover', key: 'cutover', name: 'Cutover', go: 'Cut over' },
    { id: 'cancel', path: 'cancel', key: 'cancel', name: 'Cancel', go: 'Cancel the migration' },
    { id: 'fallback', path: 'fall-back', key: 'fallBack', name: 'Fall back', go: 'Fall back to the old source' },
    {
      id: 'resume-forward',
      path: 'resume-forward',
      key: 'resumeForward',
      name: 'Resume forward',
      go: 'Fall back and follow the old source',
    },
    { id: 'close-window', path: 'close-window', key: 'closeWindow', name: 'Close window', go: 'Close the fallback window' },
  ] as const;
  type Button = (typeof BUTTONS)[number];
  let pending: Button | undefined;
  let shown: Page | undefined;

  const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

  /** An element with text or children; never markup. */
  function el(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string | undefined)[]): HTMLElement {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const c of children) if (c !== undefined) e.append(c);
    return e;
  }

  /** The children given, without the absent ones. */
  const present = (...nodes: (HTMLElement | undefined)[]) => nodes.filter((n): n is HTMLElement => n !== undefined);

  function bytes(n: number | undefined): string {
    if (n === undefined) return '-';
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let v = n;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u += 1;
    }
    return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
  }
  const count = (n: number) => n.toLocaleString('en-US');
  const when = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString() : '-');
  const seconds = (s: number | undefined) =>
    s === undefined ? '-' : s < 90 ? `${s.toFixed(1)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;

  async function api<T>(path: string, method = 'GET'): Promise<{ ok: boolean; status: number; body: T & Reading }> {
    const response = await fetch(path, { method, headers: { 'x-pgferry-token': token }, cache: 'no-store' });
    return { ok: response.ok, status: response.status, body: (await response.json()) as T & Reading };
  }

  function connection(reading: Reading | undefined, consoleDown?: string): void {
    const line = byId('connection');
    if (consoleDown) {
      line.textContent = `The console does not answer (${consoleDown}); retrying.`;
      line.className = 'down';
    } else if (reading?.unreachable) {
      line.textContent = `The target does not answer since ${when(reading.unreachableSince)} (${reading.unreachable}); showing the reading of ${when(reading.readAt)}.`;
      line.className = 'down';
    } else {
      line.textContent = reading?.readAt ? `Read from the target at ${new Date(reading.readAt).toLocaleTimeString()}` : '';
      line.className = '';
    }
  }

  function route(): { view: 'grid' } | { view: 'migration'; name: string } {
    const m = /^#\/m\/(.+)$/.exec(location.hash);
    return m ? { view: 'migration', name: decodeURIComponent(m[1]!) } : { view: 'grid' };
  }

  function renderGrid(rows: Row[]): void {
    const body = document.querySelector('#grid tbody')!;
    body.replaceChildren(
      ...rows.map((r) =>
        el(
          'tr',
          { 'data-name': r.name },
          el('th', { scope: 'row' }, el('a', { href: `#/m/${encodeURIComponent(r.name)}` }, r.name)),
          el('td', {}, r.mode),
          el('td', { class: `status-${r.state}` }, r.state),
          el('td', {}, r.subState),
          el('td', {}, r.databases.join(', ')),
          el('td', {}, when(r.startedAt)),
          el('td', {}, when(r.endedAt)),
        ),
      ),
    );
    byId('grid-empty').hidden = rows.length > 0;
  }

  function facts(list: [string, string | undefined][]): HTMLElement[] {
    return list.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]);
  }

  /** A labelled figure; `raw`, the number it shows, rides along in data-value (what a test compares with the catalog). */
  function counter(label: string, field: string, value: string, raw?: number): HTMLElement {
    return el(
      'div',
      {},
      el('dt', {}, label),
      el('dd', { 'data-field': field, ...(raw === undefined ? {} : { 'data-value': String(raw) }) }, value),
    );
  }

  function databaseCard(d: Database): HTMLElement {
    const fraction = d.fraction ?? (d.tables.total > 0 ? d.tables.completed / d.tables.total : undefined);
    const bar =
      fraction === undefined
        ? undefined
        : el(
            'div',
            {
              class: 'bar',
              role: 'progressbar',
              'aria-label': `${d.database} copy`,
              'aria-valuemin': '0',
              'aria-valuemax': '100',
              'aria-valuenow': String(Math.round(fraction * 100)),
            },
            el('span', { style: '' }),
          );
    if (bar && fraction !== undefined) (bar.firstChild as HTMLElement).style.width = `${Math.round(fraction * 100)}%`;
    const stop = d.applyStop;
    return el(
      'article',
      { class: 'card', 'data-database': d.database },
      el('h3', {}, `${d.database} `, el('span', { class: `status-${d.state}`, 'data-field': 'state' }, d.state)),
      d.message ? el('p', { class: 'note' }, d.message) : undefined,
      bar,
      el(
        'dl',
        { class: 'counters' },
        counter('Queued', 'queued', count(d.tables.queued)),
        counter('Loading', 'loading', count(d.tables.loading)),
        counter('Completed', 'completed', `${count(d.tables.completed)} / ${count(d.tables.total)}`),
        counter('Rows', 'rows', count(d.rowsCopied)),
        counter('Copied', 'bytes', bytes(d.bytesCopied)),
        counter('On disk', 'size', bytes(d.totalBytes || undefined)),
        counter('ETA', 'eta', seconds(d.etaSeconds)),
      ),
      el(
        'dl',
        { class: 'counters' },
        counter('Inserts', 'inserts', count(d.inserts)),
        counter('Updates', 'updates', count(d.updates)),
        counter('Deletes', 'deletes', count(d.deletes)),
        counter('Latency', 'latency', seconds(d.latencySeconds), d.latencySeconds),
        counter('Pending', 'pending', bytes(d.pendingBytes), d.pendingBytes),
        counter('Downtime', 'downtime', seconds(d.downtimeSeconds)),
      ),
      stop
        ? el(
            'p',
            { class: 'error', role: 'alert' },
            `Changes stopped (${stop.code}${stop.table ? `, ${stop.table}` : ''}): ${stop.error} Fix: ${stop.fix}`,
          )
        : undefined,
      d.notStreamed.length > 0
        ? el('p', { class: 'note' }, `Not streamed: ${d.notStreamed.map((n) => `${n.table} (${n.reason})`).join('; ')}`)
        : undefined,
      cutoverSteps(d),
      ...d.fences.map((f) => el('p', { class: 'note', 'data-fence': f.server }, f.line)),
      fallbackCounters(d),
    );
  }

  /**
   * The fallback window after the cutover, as `pgferry show` says it: its state and end (or when it
   * fell back or closed), the reverse lag, the target's WAL pending and retained for the old
   * source, a fall-back's downtime and, through a pooler, its pause (since when, how long, resumed on
   * which server); a stopped reverse stream's error and what fixes it.
   */
  function fallbackCounters(d: Database): HTMLElement | undefined {
    const f = d.fallback;
    if (!f) return undefined;
    const live = f.state !== 'FellBack' && f.state !== 'Closed';
    return el(
      'section',
      { class: 'window', 'data-fallback': d.database, 'aria-label': `${d.database} fallback window` },
      el('h4', {}, 'Fallback window ', el('span', { class: `status-${f.state}`, 'data-field': 'fallback-state' }, f.state)),
      el(
        'dl',
        { class: 'counters' },
        live ? counter('Ends at', 'fallback-ends', when(f.endsAt)) : undefined,
        f.state === 'FellBack' ? counter('Fell back at', 'fallback-fell-back', when(f.fellBackAt)) : undefined,
        f.state === 'Closed' ? counter('Closed at', 'fallback-closed', when(f.closedAt)) : undefined,
        counter('Reverse lag', 'fallback-lag', seconds(f.latencySeconds), f.latencySeconds),
        counter('Pending on target', 'fallback-pending', bytes(f.pendingBytes), f.pendingBytes),
        counter('WAL retained on target', 'fallback-retained', bytes(f.retainedBytes), f.retainedBytes),
        counter('Fall-back downtime', 'fallback-downtime', seconds(f.downtimeSeconds)),
        f.poolerPause ? counter('Pooler paused at', 'fallback-pooler-paused', when(f.poolerPause.pausedAt)) : undefined,
        f.poolerPause ? counter('Pooler paused for', 'fallback-pooler-pause', seconds(f.poolerPause.pauseSeconds)) : undefined,
        f.poolerPause ? counter('Pooler resumed on', 'fallback-pooler-resumed', f.poolerPause.resumedOn) : undefined,
      ),
      f.state === 'Stopped'
        ? el(
            'p',
            { class: 'error', role: 'alert', 'data-field': 'fallback-stop' },
            // the engine's stop names its own fix (a row to delete, ALTER DOMAIN ... DROP CONSTRAINT,
            // ALTER TYPE ... ADD VALUE) and how the stream goes on: shown as it is, never under a generic one
            f.message ??
              'The reverse stream stopped. Fix: fix the cause on the old source; the stream is tried again by itself, and Fall back is allowed once it applies again.',
          )
        : f.message
          ? el('p', { class: 'note', 'data-field': 'fallback-message' }, f.message)
          : undefined,
    );
  }

  /** A cutover's steps as the catalog records them, each done, under way or to come. */
  function cutoverSteps(d: Database): HTMLElement | undefined {
    if (!d.cutoverSteps) return undefined;
    const mark = { done: '✓', now: '…', next: '·' };
    return el(
      'ol',
      { class: 'steps', 'data-steps': d.database, 'aria-label': `${d.database} cutover steps` },
      ...d.cutoverSteps.map((s) =>
        el('li', { class: `step-${s.state}`, 'data-step': s.step, 'data-state': s.state }, `${mark[s.state]} ${s.step}`),
      ),
    );
  }

  /**
   * The charts of a page's databases: `forward` the stream from the source (data-chart), `reverse`
   * a fallback window's stream back to the old source (data-chart-window), each ending on the
   * figures its counters show.
   */
  function renderCharts(page: Page, series: Record<string, Series>, direction: 'forward' | 'reverse'): void {
    const maker = (window as unknown as { uPlot?: ChartMaker }).uPlot;
    const box = byId('charts');
    if (!maker) return;
    const attribute = direction === 'forward' ? 'data-chart' : 'data-chart-window';
    for (const [database, s] of Object.entries(series)) {
      const key = `${page.name}\u0000${database}\u0000${direction}`;
      const data = [s.at.map((t) => t / 1000), s.latency, s.pending];
      const chart = charts.get(key);
      if (chart) {
        chart.setData(data);
        lastPoint(box.querySelector<HTMLElement>(`[${attribute}="${CSS.escape(database)}"]`), s);
        continue;
      }
      const title = direction === 'forward' ? database : `${database}: fallback window, back to the old source`;
      const holder = el(
        'figure',
        { class: 'chart', [attribute]: database },
        el('figcaption', {}, title, ' ', el('span', { 'data-field': 'chart-now' })),
      );
      box.append(holder);
      lastPoint(holder, s);
      const width = Math.max(260, holder.clientWidth - 16);
      const options = {
        width,
        height: 220,
        series: [
          {},
          { label: 'latency (s)', stroke: '#0b5cad', scale: 's', width: 2 },
          { label: 'pending (bytes)', stroke: '#a4262c', scale: 'b', width: 2 },
        ],
        axes: [{}, { scale: 's', label: 's' }, { scale: 'b', side: 1, label: 'bytes', grid: { show: false } }],
      };
      charts.set(key, new maker(options, data, holder));
    }
  }

  /** The chart's last point, in its caption: the same figure as the counters beside it (one reading). */
  function lastPoint(holder: HTMLElement | null, s: Series): void {
    const now = holder?.querySelector('[data-field="chart-now"]');
    if (!now) return;
    const last = s.at.length - 1;
    now.textContent =
      last < 0 ? '' : `now: latency ${seconds(s.latency[last] ?? undefined)}, pending ${bytes(s.pending[last] ?? undefined)}`;
    for (const [name, values] of [
      ['data-latency', s.latency],
      ['data-pending', s.pending],
    ] as const) {
      const value = last < 0 ? null : values[last];
      if (value === null || value === undefined) now.removeAttribute(name);
      else now.setAttribute(name, String(value));
    }
  }

  function renderTable(headers: string[], rows: (string | undefined)[][]): HTMLElement {
    return el(
      'table',
      {},
      el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c ?? ''))))),
    );
  }

  function renderEvents(events: ConsoleEvent[]): void {
    const table = renderTable(
      ['At', 'Level', 'Database', 'Message'],
      events.map((e) => [when(e.at), e.level, e.database, e.message]),
    );
    for (const [i, row] of Array.from(table.querySelectorAll('tbody tr')).entries()) {
      if (events[i]!.level !== 'info') row.classList.add('status-Warning');
    }
    byId('events').replaceChildren(events.length === 0 ? el('p', { class: 'note' }, 'No events.') : table);
  }

  function renderPage(page: Page, series: Record<string, Series>, windowSeries: Record<string, Series>): void {
    shown = page;
    byId('migration-title').textContent = page.name;
    byId('summary').replaceChildren(
      ...facts([
        ['Mode', page.mode],
        ['State', `${page.state} / ${page.subState}`],
        ['Message', page.message],
        ['Started', when(page.startedAt)],
        ['Ended', page.endedAt ? when(page.endedAt) : undefined],
        ['Versions', page.sourceVersion ? `${page.sourceVersion} → ${page.targetVersion ?? '?'}` : undefined],
        ['Downtime of the cutover', page.downtimeSeconds === undefined ? undefined : seconds(page.downtimeSeconds)],
      ]),
    );
    for (const b of BUTTONS) {
      const action = page.actions[b.key];
      const button = byId<HTMLButtonElement>(b.id);
      button.disabled = !action.allowed;
      button.title = action.allowed ? action.effect : (action.why ?? '');
    }
    byId('cutover').textContent = page.cutOverBefore ? 'Cut over again' : 'Cutover';
    byId('action-note').replaceChildren(
      ...BUTTONS.filter((b) => !page.actions[b.key].allowed && page.actions[b.key].why).map((b) =>
        el(
          'span',
          { 'data-why': b.id },
          `${b.id === 'cutover' && page.cutOverBefore ? 'Cut over again' : b.name}: ${page.actions[b.key].why!}. `,
        ),
      ),
    );
    byId('databases').replaceChildren(...page.databases.map(databaseCard));
    renderCharts(page, series, 'forward');
    renderCharts(page, windowSeries, 'reverse');
    byId('validation').replaceChildren(
      page.validation.length === 0
        ? el('p', { class: 'note' }, 'No validation results yet.')
        : renderTable(
            ['Status', 'Check', 'Database', 'Message', 'Fix'],
            page.validation.map((v) => [v.status, v.type, v.database, v.message, v.fix]),
          ),
    );
    renderVerification(page);
    renderRuntime(page);
  }

  function renderVerification(page: Page): void {
    const v = page.verification;
    if (!v) {
      byId('verification').replaceChildren(el('p', { class: 'note' }, 'Not verified yet.'));
      return;
    }
    const diffs = v.schema.flatMap((s) => s.differences.map((d) => [s.database, d.object, d.detail, d.fix]));
    byId('verification').replaceChildren(
      ...present(
        el(
          'p',
          { class: v.ok ? 'status-ok' : 'status-bad' },
          v.ok ? `Identical: ${v.tablesCompared} tables compared.` : `Differences found: ${v.firstMismatch ?? ''}`,
        ),
        v.mismatches.length > 0
          ? renderTable(
              ['Database', 'Table', 'Source rows', 'Target rows', 'Reason'],
              v.mismatches.map((m) => [m.database, m.table, count(m.sourceRows), count(m.targetRows), m.reason]),
            )
          : undefined,
        diffs.length > 0 ? renderTable(['Database', 'Object', 'Difference', 'Fix'], diffs) : undefined,
      ),
    );
  }

  function renderRuntime(page: Page): void {
    const r = page.runtime;
    const runner = r.runner
      ? `Runner on ${r.runner.host}, pid ${r.runner.pid}: ${r.runner.alive ? 'alive' : 'stopped'}, heartbeat ${when(r.runner.heartbeatAt)}`
      : 'No runner recorded.';
    byId('runtime').replaceChildren(
      ...present(
        el('p', {}, `Runtime ${r.runtime}. ${runner}`),
        r.waiting ? el('p', { class: 'note' }, r.waiting) : undefined,
        r.agents.length > 0
          ? renderTable(
              ['Agent', 'Host', 'Alive', 'Heartbeat', 'Holds'],
              r.agents.map((a) => [a.name, a.host, a.alive ? 'yes' : 'no', when(a.heartbeatAt), `${a.itemsHeld} ${a.items.join(', ')}`]),
            )
          : undefined,
      ),
    );
  }

  async function poll(): Promise<void> {
    const where = route();
    byId('grid-view').hidden = where.view !== 'grid';
    byId('migration-view').hidden = where.view !== 'migration';
    try {
      if (where.view === 'grid') {
        const filter = document.querySelector<HTMLInputElement>('input[name="filter"]:checked')?.value ?? 'active';
        const { ok, body } = await api<{ rows: Row[] }>(`/api/migrations?filter=${filter}`);
        connection(body, ok ? undefined : body.error);
        if (ok) renderGrid(body.rows);
      } else {
        const { ok, body } = await api<{
          page: Page;
          series: Record<string, Series>;
          windowSeries?: Record<string, Series>;
          events: ConsoleEvent[];
        }>(`/api/migrations/${encodeURIComponent(where.name)}`);
        connection(body, ok ? undefined : body.error);
        if (ok) {
          renderPage(body.page, body.series, body.windowSeries ?? {});
          renderEvents(body.events);
        }
      }
    } catch (error) {
      connection(undefined, (error as Error).message);
    }
  }

  function openConfirm(button: Button): void {
    if (!shown) return;
    pending = button;
    const name = button.id === 'cutover' && shown.cutOverBefore ? 'Cut over again' : button.name;
    byId('confirm-title').textContent = `${name}: ${shown.name}?`;
    byId('confirm-effect').textContent = shown.actions[button.key].effect;
    byId('confirm-error').textContent = '';
    byId('confirm-go').textContent = button.id === 'cutover' && shown.cutOverBefore ? 'Cut over again' : button.go;
    byId<HTMLDialogElement>('confirm').showModal();
  }

  async function confirmed(): Promise<void> {
    if (!shown || !pending) return;
    const { ok, body } = await api<{ error?: string }>(`/api/migrations/${encodeURIComponent(shown.name)}/${pending.path}`, 'POST');
    if (!ok) {
      byId('confirm-error').textContent = body.error ?? 'refused';
      return;
    }
    byId<HTMLDialogElement>('confirm').close();
    await poll();
  }

  let timer: number | undefined;
  function schedule(): void {
    window.clearTimeout(timer);
    void poll().finally(() => (timer = window.setTimeout(schedule, POLL_MS)));
  }
  window.addEventListener('hashchange', () => {
    byId('charts').replaceChildren();
    charts.clear();
    schedule();
  });
  for (const radio of document.querySelectorAll('input[name="filter"]')) radio.addEventListener('change', schedule);
  for (const b of BUTTONS) byId(b.id).addEventListener('click', () => openConfirm(b));
  byId('confirm-go').addEventListener('click', () => void confirmed());
  schedule();
})();

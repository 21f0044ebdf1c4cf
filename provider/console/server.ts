// The console's HTTP server (fastify: routing, hooks, JSON replies and shutdown come from a
// well-kept framework rather than a hand-written router). The page and its assets are served from
// this package, nothing from a CDN, so the console works inside a VNet without internet. Reads are
// answered from the watch's last reading; the actions call the engine's own requests, the same the
// CLI's `update --cutover`, `--cancel`, `--fall-back [--resume-forward]` and `--close-fallback`
// call, with their guards.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import {
  cancelMigration,
  closeFallbackWindow,
  isPgferryError,
  maskSecrets,
  requestCutover,
  requestFallBack,
  type MigrationStatus,
  type ServerSpec,
} from '../engine';
import { PAGE_HTML } from './page/html';
import { PAGE_CSS } from './page/style';
import { refusal, TOKEN_HEADER, type Access } from './security';
import { chartSeries, gridRow, migrationPage } from './view';
import { isActive, type CatalogWatch } from './watch';

/** Every asset, read once at start: the compiled page script, its style, and uPlot (the charts). */
function assets(): Record<string, { type: string; body: string }> {
  const read = (file: string) => readFileSync(file, 'utf8');
  const uplot = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  return {
    'console.js': {
      type: 'text/javascript; charset=utf-8',
      body: read(path.join(__dirname, 'page', 'client.js')).replace(/\n\/\/# sourceMappingURL=.*$/, ''),
    },
    'console.css': { type: 'text/css; charset=utf-8', body: PAGE_CSS },
    'uPlot.js': { type: 'text/javascript; charset=utf-8', body: read(path.join(uplot, 'uPlot.iife.min.js')) },
    'uPlot.css': { type: 'text/css; charset=utf-8', body: read(path.join(uplot, 'uPlot.min.css')) },
  };
}

/** Everything the page loads comes from here; no inline script, no frame of it elsewhere. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export interface ConsoleServerOptions {
  readonly target: ServerSpec;
  readonly watch: CatalogWatch;
  readonly access: Access;
  /** Serve HTTPS with this certificate and key. */
  readonly https?: { readonly cert: Buffer; readonly key: Buffer };
}

export function consoleServer(options: ConsoleServerOptions): FastifyInstance {
  const { target, watch, access } = options;
  // fastify types an HTTPS instance by its raw server alone; routes and hooks are the same
  const app = options.https
    ? (Fastify({ logger: false, https: { cert: options.https.cert, key: options.https.key } }) as unknown as FastifyInstance)
    : Fastify({ logger: false });
  const files = assets();
  const header = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

  app.addHook('onRequest', async (request, reply) => {
    void reply.headers(SECURITY_HEADERS);
    const refused = refusal(access, {
      method: request.method,
      host: request.headers.host,
      origin: header(request.headers.origin),
      fetchSite: header(request.headers['sec-fetch-site']),
      token: request.url.startsWith('/api/') || request.method !== 'GET' ? header(request.headers[TOKEN_HEADER]) : access.token,
    });
    if (refused) return reply.code(refused.status).send({ error: refused.reason });
  });

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE_HTML));
  app.get<{ Params: { file: string } }>('/assets/:file', async (request, reply) => {
    const file = files[request.params.file];
    if (!file) return reply.code(404).send({ error: 'no such asset' });
    return reply.type(file.type).send(file.body);
  });

  app.get<{ Querystring: { filter?: string } }>('/api/migrations', async (request) => {
    const reading = watch.current();
    const all = request.query.filter === 'all';
    return { ...readingFacts(), rows: reading.migrations.filter((m) => all || isActive(m)).map(gridRow) };
  });

  app.get<{ Params: { name: string } }>('/api/migrations/:name', async (request, reply) => {
    const status = watch.find(request.params.name);
    // the reading the status comes from: its counters end the charts (view.ts chartSeries)
    const readAt = watch.current().readAt;
    if (!status) return reply.code(404).send({ ...readingFacts(), error: `migration "${request.params.name}" not found on the target` });
    const [{ tables, rates }, series, events] = await Promise.all([watch.tablesOf(status), watch.seriesOf(status), watch.eventsOf(status)]);
    // the catalog holds no secret; masked all the same, as every line the CLI prints
    const masked = events.map((e) => ({ ...e, message: maskSecrets(e.message, [target.password]) }));
    const charts = chartSeries(status, series.forward, readAt);
    const windowCharts = chartSeries(status, series.reverse, readAt, 'reverse');
    return { ...readingFacts(), page: migrationPage(status, tables, rates), series: charts, windowSeries: windowCharts, events: masked };
  });

  app.post<{ Params: { name: string } }>('/api/migrations/:name/cutover', async (request, reply) =>
    act(reply, () => requestCutover(target, request.params.name)),
  );
  // Without the source's credentials: a migration whose runner stopped is refused by the engine,
  // as the CLI refuses it without them; `pgferry update --cancel` with them carries it out.
  app.post<{ Params: { name: string } }>('/api/migrations/:name/cancel', async (request, reply) =>
    act(reply, () => cancelMigration(target, request.params.name)),
  );

  // the fall-back of `pgferry update --fall-back`, with its refusals (docs/fallback.md); with
  // --resume-forward, and the window's close of `--close-fallback`
  app.post<{ Params: { name: string } }>('/api/migrations/:name/fall-back', async (request, reply) =>
    act(reply, () => requestFallBack(target, request.params.name)),
  );
  app.post<{ Params: { name: string } }>('/api/migrations/:name/resume-forward', async (request, reply) =>
    act(reply, () => requestFallBack(target, request.params.name, { resumeForward: true })),
  );
  app.post<{ Params: { name: string } }>('/api/migrations/:name/close-window', async (request, reply) =>
    act(reply, () => closeFallbackWindow(target, request.params.name)),
  );

  function readingFacts() {
    const r = watch.current();
    return {
      ...(r.readAt === undefined ? {} : { readAt: new Date(r.readAt).toISOString() }),
      ...(r.error === undefined ? {} : { unreachable: r.error, unreachableSince: new Date(r.errorSince!).toISOString() }),
    };
  }

  async function act(reply: FastifyReply, request: () => Promise<MigrationStatus>) {
    try {
      const status = await request();
      watch.refresh();
      return {
        state: status.state,
        subState: status.subState,
        cutoverRequested: status.cutoverRequested === true,
        cancelRequested: status.cancelRequested === true,
      };
    } catch (error) {
      const line = isPgferryError(error) ? `${error.oneLine()} [${error.code}]` : `the target did not answer: ${(error as Error).message}`;
      return reply
        .code(isPgferryError(error) && error.category === 'input' ? 409 : 502)
        .send({ error: maskSecrets(line, [target.password]) });
    }
  }

  return app;
}

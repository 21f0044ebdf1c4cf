// The fallback window as an input (fallbackWindow, docs/fallback.md): one line naming the field and
// what is allowed, the same from the spec, a properties file, the CLI's flags, Pulumi's check and a
// cutover request; refused for an offline migration and without the writer fence.
import assert from 'node:assert/strict';
import { parseCli } from '../../provider/cli/input/parse';
import { specFromProperties } from '../../provider/cli/input/body';
import { parseMigrationSpec, PgferryError, requestCutover } from '../../provider/engine';
import { fallbackWindowSeconds, unfencedWindowRefusal } from '../../provider/engine/input/fallbackWindow';
import { checkInputs } from '../../provider/resource/inputSchema';
import { diffInputs, RefusedChangeError } from '../../provider/resource/diff';

const base = {
  migrationName: 'm1',
  source: { host: '10.0.0.4', user: 'postgres' },
  target: { host: 'dst.example.com', user: 'pgadmin' },
  databases: ['sales'],
  mode: 'Online',
  fenceWriters: true,
};

const RULE = 'must be a duration of whole minutes, hours or days (30m, 24h, 7d) from 10m to 30d';
const NEEDS_FENCE =
  'needs fenceWriters: true (the old source stays read-only for everyone but the reverse stream, so no write lands on both servers)';

function inputError(fn: () => unknown): PgferryError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PgferryError, `expected a PgferryError, got ${String(error)}`);
    assert.equal(error.category, 'input');
    return error;
  }
  assert.fail('expected an input error');
}

describe('fallback window: the input', () => {
  it('takes minutes, hours and days, kept as written', () => {
    assert.equal(parseMigrationSpec(base).fallbackWindow, undefined);
    for (const [text, seconds] of [
      ['10m', 600],
      ['24h', 86400],
      ['7d', 7 * 86400],
      ['30d', 30 * 86400],
    ] as const) {
      assert.equal(parseMigrationSpec({ ...base, fallbackWindow: text }).fallbackWindow, text);
      assert.equal(fallbackWindowSeconds(text), seconds);
    }
  });

  it('refuses a bad value in one line naming the field and what is allowed', () => {
    for (const bad of ['9m', '31d', '24', 'h', '1.5h', '-1h', '0h', '24H', ' 24h', '1w', 24, null, true]) {
      const error = inputError(() => parseMigrationSpec({ ...base, fallbackWindow: bad }));
      assert.equal(error.message, `fallbackWindow: ${RULE}`, `value ${String(bad)}`);
      assert.equal(error.field, 'fallbackWindow');
      assert.equal(error.code, 'INVALID_INPUT');
    }
  });

  it('refuses it for an offline migration, and without the writer fence', () => {
    const offline = inputError(() => parseMigrationSpec({ ...base, mode: 'Offline', fenceWriters: false, fallbackWindow: '24h' }));
    assert.equal(offline.message, 'fallbackWindow: applies only to an Online migration (mode), which has a cutover');
    const unfenced = inputError(() => parseMigrationSpec({ ...base, fenceWriters: false, fallbackWindow: '24h' }));
    assert.equal(unfenced.message, `fallbackWindow: ${NEEDS_FENCE}`);
  });

  it('names the field as the properties file wrote it', () => {
    const azure = inputError(() =>
      specFromProperties(
        {
          properties: {
            SourceDBServerResourceId: '10.0.0.4:5432@postgres',
            targetDbServerFullyQualifiedDomainName: 'dst.example.com',
            DBsToMigrate: ['sales'],
            MigrationMode: 'Online',
            fenceWriters: true,
            fallbackWindow: 'a day',
          },
        },
        { name: 'm1' },
        { PGUSER: 'pgadmin' },
      ),
    );
    assert.equal(azure.message, `properties.fallbackWindow: ${RULE}`);
    const plain = specFromProperties({
      ...base,
      source: 'postgres://u@src/postgres',
      target: 'postgres://u@dst/postgres',
      fallbackWindow: '2d',
    });
    assert.equal(plain.fallbackWindow, '2d');
  });

  it('takes --fallback-window on create, and on update only beside --cutover', () => {
    const create = parseCli(['create', '--name', 'm1', '--properties', 'b.json', '--fence-writers', '--fallback-window', '24h']);
    assert.equal(create.spec.fallbackWindow, '24h');
    const bad = inputError(() => parseCli(['create', '--name', 'm1', '--properties', 'b.json', '--fallback-window', '5m']));
    assert.equal(bad.message, `--fallback-window: ${RULE}`);
    const update = parseCli(['update', '--name', 'm1', '--target-host', 'h', '--cutover', '--fallback-window', '24h']);
    assert.deepEqual([update.cutover, update.spec.fallbackWindow], [true, '24h']);
    const alone = inputError(() => parseCli(['update', '--name', 'm1', '--target-host', 'h', '--cancel', '--fallback-window', '24h']));
    assert.equal(alone.message, '--fallback-window: applies only with --cutover');
  });

  it("fails Pulumi's check naming the input", () => {
    const failures = checkInputs({}, { ...base, fallbackWindow: '1y' });
    assert.deepEqual(
      failures.map((f) => [f.property, f.reason]),
      [['fallbackWindow', `fallbackWindow: ${RULE}`]],
    );
  });

  it("PgMigration's fallBack: once cut over, online, never taken back; a change the update acts on", () => {
    const reasons = (olds: Record<string, unknown>, news: Record<string, unknown>) =>
      checkInputs(olds, news)
        .filter((f) => f.property === 'fallBack')
        .map((f) => f.reason);
    const cutOver = { ...base, fallbackWindow: '24h', cutover: true };
    assert.deepEqual(reasons({}, { ...cutOver, fallBack: true }), []);
    assert.deepEqual(reasons({}, { ...base, fallbackWindow: '24h', cutover: false, fallBack: true }), [
      'fallBack: applies only once cut over (cutover: true) with fallbackWindow',
    ]);
    assert.deepEqual(reasons({}, { ...base, mode: 'Offline', fenceWriters: undefined, cutover: true, fallBack: true }), [
      'fallBack: applies only to an Online migration cut over with fallbackWindow',
    ]);
    assert.deepEqual(reasons({}, { ...cutOver, fallBack: 'yes' }), ['fallBack: must be true or false']);
    const back =
      'fallBack: cannot go from true back to false (the old source is the primary again); with resumeForward: true, raise cutoverCount to cut over again, else replace the resource to migrate again';
    assert.deepEqual(reasons({ ...cutOver, fallBack: true }, { ...cutOver, fallBack: false }), [back]);
    assert.throws(
      () => diffInputs({ ...cutOver, fallBack: true }, { ...cutOver, fallBack: false }),
      (e: unknown) => e instanceof RefusedChangeError && e.message === back,
    );
    const decision = diffInputs({ ...cutOver, state: 'Succeeded' }, { ...cutOver, fallBack: true });
    assert.deepEqual([decision.replaces, decision.changes], [[], true]);
  });

  it('refuses a cutover request with a bad window, or one without the fence, before it reaches any server', async () => {
    // port 1 on loopback: a request that tried to connect would fail with a connection error instead
    const target = { host: '127.0.0.1', port: 1, user: 'u', sslMode: 'disable' as const, maintenanceDatabase: 'postgres' };
    await assert.rejects(requestCutover(target, 'm1', undefined, { fallbackWindow: '1y' }), (error: unknown) => {
      assert.ok(error instanceof PgferryError);
      assert.equal(error.message, `fallbackWindow: ${RULE}`);
      return true;
    });
    await assert.rejects(requestCutover(target, 'm1', undefined, { fallbackWindow: '24h', fenceWriters: false }), (error: unknown) => {
      assert.ok(error instanceof PgferryError);
      assert.equal(error.message, `fallbackWindow: ${NEEDS_FENCE}`);
      return true;
    });
  });

  it('refuses a window from one of spec and request with fenceWriters: false from the other, naming which asked what', () => {
    const spec = { fenceWriters: true, fallbackWindow: '24h' };
    assert.equal(
      unfencedWindowRefusal(spec, { fenceWriters: false }),
      "a fallback window (24h, from the migration's spec) needs the writers fenced, and the cutover request (--no-fence-writers) asked fenceWriters: false: request the cutover again with the fence (or without the window)",
    );
    // the window the request asks fences unless it says otherwise; the spec's own fence then does not matter
    assert.equal(unfencedWindowRefusal({ fenceWriters: false }, { fallbackWindow: '1h' }), undefined);
    assert.equal(unfencedWindowRefusal(spec, {}), undefined);
    assert.equal(unfencedWindowRefusal({ fenceWriters: false }, { fenceWriters: false }), undefined);
    assert.equal(unfencedWindowRefusal(spec, { fenceWriters: true }), undefined);
    assert.match(
      unfencedWindowRefusal({ fenceWriters: false }, { fallbackWindow: '1h', fenceWriters: false }) ?? '',
      /from the cutover request\) .* the cutover request \(--no-fence-writers\)/,
    );
  });
});

describe("fallback window: PgMigration's forward stream again and second cutover", () => {
  it("PgMigration's resumeForward: only beside fallBack, fixed once the fall-back is asked", () => {
    const reasons = (olds: Record<string, unknown>, news: Record<string, unknown>) =>
      checkInputs(olds, news)
        .filter((f) => f.property === 'resumeForward')
        .map((f) => f.reason);
    const cutOver = { ...base, fallbackWindow: '24h', cutover: true };
    assert.deepEqual(reasons({}, { ...cutOver, fallBack: true, resumeForward: true }), []);
    assert.deepEqual(reasons(cutOver, { ...cutOver, resumeForward: true }), [
      'resumeForward: applies only with fallBack: true (the fall-back then streams forward again, as `update --fall-back --resume-forward`)',
    ]);
    assert.deepEqual(reasons({}, { ...cutOver, fallBack: true, resumeForward: 'yes' }), ['resumeForward: must be true or false']);
    assert.deepEqual(reasons({ ...cutOver, fallBack: true }, { ...cutOver, fallBack: true, resumeForward: true }), [
      'resumeForward: cannot change once fallBack is true (the fall-back was asked without it); raise cutoverCount after a fall-back with resumeForward to cut over again',
    ]);
    const decision = diffInputs({ ...cutOver, state: 'Succeeded' }, { ...cutOver, fallBack: true, resumeForward: true });
    assert.deepEqual([decision.replaces, decision.changes], [[], true]);
  });

  it("PgMigration's cutoverCount: raised by one after a fall-back with resumeForward, fallBack false again; never lowered", () => {
    const reasons = (olds: Record<string, unknown>, news: Record<string, unknown>) =>
      checkInputs(olds, news)
        .filter((f) => f.property === 'cutoverCount' || f.property === 'fallBack')
        .map((f) => f.reason);
    const cutOver = { ...base, fallbackWindow: '24h', cutover: true };
    const fellBack = { ...cutOver, fallBack: true, resumeForward: true };
    const again = { ...cutOver, cutoverCount: 2 };
    assert.deepEqual(reasons(fellBack, again), [], 'the second cutover asked');
    assert.deepEqual(reasons(fellBack, { ...again, fallBack: false, resumeForward: false }), []);
    assert.deepEqual(reasons({}, again), [
      'cutoverCount: a new migration starts at 1 (raise it after a fall-back with resumeForward: true)',
    ]);
    assert.deepEqual(reasons(cutOver, { ...cutOver, cutoverCount: 0 }), ['cutoverCount: must be a whole number, 1 or more']);
    assert.deepEqual(reasons({ ...cutOver, fallBack: true }, { ...again, fallBack: false }), [
      'cutoverCount: raise it only once the migration fell back with resumeForward: true (fallBack and resumeForward true); it is 1 cut over now',
    ]);
    assert.deepEqual(reasons(fellBack, { ...cutOver, cutoverCount: 3 }), ['cutoverCount: raise it by one at a time (from 1 to 2)']);
    assert.deepEqual(reasons(fellBack, { ...fellBack, cutoverCount: 2 }), [
      'cutoverCount: set fallBack and resumeForward false (or remove them) when raising it: they apply to the newest cutover, and a new one starts without a fall-back',
    ]);
    assert.deepEqual(reasons(again, cutOver), ['cutoverCount: cannot go down from 2 (a cutover made cannot be taken back)']);
    assert.throws(
      () => diffInputs({ ...again, state: 'Succeeded' }, { ...cutOver, state: 'Succeeded' }),
      (e: unknown) => e instanceof RefusedChangeError && /^cutoverCount: cannot go down from 2/.test(e.message),
    );
    // an update, never a replace: the fall-back's true may go back to false with the raise
    const decision = diffInputs({ ...fellBack, state: 'WaitingForUserAction' }, again);
    assert.deepEqual([decision.replaces, decision.changes], [[], true]);
  });
});

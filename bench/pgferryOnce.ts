// Child-process entry: runs one pgferry migration from a JSON spec on stdin, so the benchmark
// measures its memory the same way as the other tools'. Prints one JSON line per progress event
// ({t, event}) and a last line {t, status}; the spec (with passwords) is never printed.
import { parseMigrationSpec, runMigration } from '../provider/engine';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  const spec = parseMigrationSpec(JSON.parse(await readStdin()));
  const started = Date.now();
  const t = () => (Date.now() - started) / 1000;
  const status = await runMigration(spec, {
    onProgress: (event) => {
      // table-progress is frequent and not needed for timings.
      if (event.kind !== 'table-progress') process.stdout.write(`${JSON.stringify({ t: t(), event })}\n`);
    },
  });
  const { state, subState, message, databases } = status;
  process.stdout.write(`${JSON.stringify({ t: t(), status: { state, subState, message, databases } })}\n`);
  process.exitCode = state === 'Succeeded' ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`pgferryOnce: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});

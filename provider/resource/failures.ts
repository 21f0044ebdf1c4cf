// How failures reach Pulumi: once a migration exists, a failure is a partial failure carrying
// its id and outputs (so state keeps the resource and a later up/destroy finds it), with the
// cause and what to do in the message. Before it exists, the first failure a create can meet is
// the target out of reach of the machine running `pulumi up` (a private server, a VPN not
// connected yet): the error says so and what to do, instead of a bare socket errno.
import * as engine from '../engine';
import type { MigrationSpec, MigrationStatus } from '../engine';
import { migrationId, migrationOutputs } from './outputs';
import { redact } from './redact';

type Props = Record<string, unknown>;

/**
 * Thrown from create/update once the migration exists: the host turns an error carrying `id`
 * and `properties` into "created but failed to initialise", so state keeps the resource.
 */
class PartialFailure extends Error {
  override readonly name = 'PartialFailure';
  constructor(
    message: string,
    readonly id: string,
    readonly properties: Props,
    readonly reasons: string[],
  ) {
    super(message);
  }
}

export function failureMessage(status: MigrationStatus): string | undefined {
  if (status.state === 'ValidationFailed') {
    const failed = status.validation.filter((v) => v.status === 'Failed');
    const list = failed.map((v) => `${v.code}: ${v.message}${v.fix ? ` (fix: ${v.fix})` : ''}`).join('; ');
    return `migration "${status.name}" failed validation: ${list || status.message || 'see validation output'}`;
  }
  if (status.state === 'Failed') return `migration "${status.name}" failed: ${status.message ?? 'no message recorded'}`;
  if (status.state === 'Canceled') return `migration "${status.name}" was canceled${status.message ? `: ${status.message}` : ''}`;
  // runtime agents: a runner gone is no failure, the agents take it up (settle says so in `message`)
  if (engine.runnerStopped(status) && status.runtime !== 'agents') return staleRunnerMessage(status);
  if (engine.waitingForApplyFix(status)) return `migration "${status.name}" is waiting for a fix: ${status.message ?? 'see its databases'}`;
  return undefined;
}

/**
 * A live migration whose runner is gone: nothing drives it until something restarts it, which
 * `pulumi refresh` never does (it only reads); `pulumi up` does.
 */
export function staleRunnerMessage(status: MigrationStatus): string {
  if (status.runtime === 'agents') {
    return status.waiting !== undefined
      ? `migration "${status.name}" is ${status.state}/${status.subState} and nothing runs it: ${status.waiting}`
      : `migration "${status.name}" is ${status.state}/${status.subState}; its runner stopped (last heartbeat ${status.runner?.heartbeatAt ?? 'never'}) and an agent takes it over`;
  }
  return `migration "${status.name}" is ${status.state}/${status.subState} but its runner stopped (last heartbeat ${status.runner?.heartbeatAt ?? 'never'}) and nothing drives it: run \`pulumi up --refresh\` to restart it where it stopped (or \`pgferry resume --name ${status.name} --properties <file>\`)`;
}

/** Outputs for a settled status, or the partial failure that keeps the resource in state. */
export function settle(spec: MigrationSpec, inputs: Props, status: MigrationStatus, how: { canceledOnRequest?: boolean } = {}): Props {
  const outs = migrationOutputs(inputs, status);
  const message = how.canceledOnRequest && status.state === 'Canceled' ? undefined : failureMessage(status);
  if (message) {
    const text = redact(message, spec);
    throw new PartialFailure(text, migrationId(spec), { ...outs, __provider: inputs.__provider }, [text]);
  }
  if (!engine.isFinalState(status.state) && (engine.runnerStopped(status) || status.waiting !== undefined)) {
    outs.message = redact(staleRunnerMessage(status), spec);
  }
  return outs;
}

/** A thrown error as a partial failure when the migration exists on the target, else as itself. */
export async function asFailure(spec: MigrationSpec, inputs: Props, error: unknown, what: string): Promise<Error> {
  if (error instanceof PartialFailure) return error;
  const code = engine.isPgferryError(error) ? ` [${error.code}]` : '';
  const text = redact(`${what}: ${engine.errorMessage(error)}${code}`, spec);
  const status = await engine.showMigration(spec.target, spec.migrationName).catch(() => undefined);
  if (!status) return new Error(text);
  const outs = migrationOutputs(inputs, status);
  return new PartialFailure(text, migrationId(spec), { ...outs, __provider: inputs.__provider }, [text]);
}

/** Rewords the engine's wait timeout as what happened and what to do next. */
export function timeoutHint(error: unknown, spec: MigrationSpec, op: string, timeoutMs: number | undefined): unknown {
  if (engine.isPgferryError(error) && error.code === 'WAIT_TIMEOUT') {
    return new Error(
      `${op} exceeded customTimeouts.${op} (${Math.round((timeoutMs ?? 0) / 1000)} s); migration "${spec.migrationName}" keeps running on the target: run \`pulumi up\` again to keep waiting, \`pulumi refresh\` to see its progress, or \`pulumi destroy\` to cancel it`,
    );
  }
  return error;
}

/** Socket errnos that mean "no route to the server", not "the server said no". */
const UNREACHABLE_ERRNOS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

function unreachableReason(error: unknown): string | undefined {
  const errno = (error as { code?: unknown } | null)?.code;
  if (typeof errno === 'string' && UNREACHABLE_ERRNOS.has(errno)) return errno;
  const message = String((error as Error | null)?.message ?? '');
  return /timeout expired|connection timeout/i.test(message) ? 'connection timed out' : undefined;
}

/** The error as given, or one that names the unreachable target and what makes it reachable. */
export function reachabilityHint(error: unknown, spec: MigrationSpec): Error {
  const reason = unreachableReason(error);
  const text = reason
    ? `target: cannot reach ${spec.target.host}:${spec.target.port} from this machine (${reason}); migrations run from the machine running pulumi up, which must reach both servers: a server with private access only is reachable from its virtual network or over its VPN (connect the VPN client), then run pulumi up again. Nothing was started`
    : `create: ${engine.errorMessage(error)}`;
  return new Error(redact(text, spec));
}

// Runs a Pulumi program file under mocks the way the Node.js language host would: the example's
// TypeScript source transpiled as ts-node would, with `pgferry` resolved to this compiled tree.
import { promises as fs } from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import * as ts from 'typescript';

/** The repository root (sources), from the compiled test location …/dist-pulumi/test/resource/support. */
export function repoRoot(): string {
  return path.resolve(__dirname, '../../../..');
}

/** Loads a program's index.ts and returns its exports; `pgferry` is this build's provider index. */
export async function loadProgram(programDir: string): Promise<Record<string, unknown>> {
  const file = path.join(programDir, 'index.ts');
  const source = await fs.readFile(file, 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: file,
  });
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(repoRoot());
  const pgferry = path.resolve(__dirname, '../../../provider');
  const parentRequire = require;
  mod.require = Object.assign((id: string) => parentRequire(id === 'pgferry' ? pgferry : id), parentRequire) as NodeJS.Require;
  (mod as unknown as { _compile(code: string, file: string): void })._compile(outputText, file);
  return mod.exports as Record<string, unknown>;
}

/**
 * Type-checks programs against the public API as the package ships it (`pgferry` → the built
 * dist/provider/index.d.ts, the package's `types`); returns the errors. Checking against the
 * declarations rather than the provider's sources is what a user's program sees, and it does not
 * type-check the whole provider again, which took past the test's timeout on a loaded machine.
 */
export function typeCheckPrograms(files: string[]): string[] {
  const root = repoRoot();
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
    baseUrl: root,
    paths: { pgferry: ['dist/provider/index.d.ts'] },
    typeRoots: [path.join(root, 'node_modules/@types')],
    types: ['node'],
  });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && files.includes(path.resolve(d.file.fileName)))
    .map((d) => `${d.file!.fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

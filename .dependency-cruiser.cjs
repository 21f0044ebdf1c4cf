// The ranks of the engine's folders, written down once: a file imports only files of its own folder
// and of folders of a lower rank (type-only imports included, since a type names the concept it
// comes from), and no import cycle exists anywhere in provider/engine. `npm run lint` runs it
// (`npm run ranks`); docs/layout.md lists the same ranks and test/unit/layoutDoc.test.ts holds the
// two together, and that every folder of the engine has a rank.
//
// Folders of one rank are peers: they do not import each other either, so each stage of a
// migration (the schema restore, the copy) stands on the ranks below it alone. '.' is the engine's
// own top-level files: the library API and the public index.
const RANKS = [
  ['core'],
  ['util'],
  ['input'],
  ['connect'],
  ['catalog'],
  ['filter'],
  // below control/: the catalog records the copy's items and rounds, and neither stage writes to it
  ['schema', 'copy'],
  ['control'],
  // the context of a running migration: it holds the control store and the pg tools, every stage takes it
  ['run'],
  // the stages of change data capture, imports one way: decode, prepare (what is set on both servers
  // before streaming and given back at release), receive, plan, the pin protocol, apply
  ['cdc/decode'],
  ['cdc/prepare'],
  ['cdc/receive'],
  ['cdc/plan'],
  // the verification pin, between the apply that holds at it and the verifier that reads there
  ['cdc/pin'],
  ['cdc/apply'],
  ['verify', 'verify/schema'],
  // the switchover's mechanisms, shared by both directions; the steps that run them are
  // flow/cutover.ts and flow/fallBackStep.ts
  ['switchover'],
  // the footprint: each reversible change on the servers, over the stage that makes it (cdc/prepare,
  // cdc/apply, switchover), and the one release that gives them back in order
  ['footprint'],
  // above the stages: each premigration check asks the mechanism it checks (equality) or the change it
  // checks the rights of (footprint/)
  ['validate'],
  ['flow'],
  ['runner'],
  ['.'],
];

// Imports the ranks forbid that the code still makes, each named ({ from, to, why }, paths under
// provider/engine) and to be removed; the check fails on any other. A cycle through one of these
// files is let through with it. None today: keep it so.
const EXCEPTIONS = [];

const ENGINE = 'provider/engine';
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const filesOf = (folder) => (folder === '.' ? `^${ENGINE}/[^/]+$` : `^${ENGINE}/${escape(folder)}/[^/]+$`);
const exactly = (file) => `^${escape(`${ENGINE}/${file}`)}$`;

function rankRules() {
  const rules = [];
  RANKS.forEach((folders, rank) => {
    const notBelow = RANKS.slice(rank).flat();
    for (const folder of folders) {
      const forbidden = notBelow.filter((other) => other !== folder).map(filesOf);
      if (forbidden.length === 0) continue;
      const excepted = EXCEPTIONS.filter((e) => new RegExp(filesOf(folder)).test(`${ENGINE}/${e.from}`));
      const sources = [...new Set(excepted.map((e) => e.from))];
      rules.push({
        name: `rank-${folder}`,
        comment: `engine/${folder}/ (rank ${rank}) imports only its own files and folders of a lower rank`,
        severity: 'error',
        from: { path: filesOf(folder), pathNot: sources.map(exactly) },
        to: { path: forbidden },
      });
      for (const source of sources) {
        rules.push({
          name: `rank-${folder}`,
          comment: `engine/${folder}/ (rank ${rank}), with its named exceptions`,
          severity: 'error',
          from: { path: exactly(source) },
          to: { path: forbidden, pathNot: excepted.filter((e) => e.from === source).map((e) => exactly(e.to)) },
        });
      }
    }
  });
  return rules;
}

// The product's callers (the CLI, the resource, the console, the demo, the lab) reach the engine
// through its public index only, so what they prove is what a user of `pgferry/engine` gets. The
// tools (bench/, faults/) reach it through the index and the tools' entry (engine/internal.ts:
// what they need to set up and judge a scenario, which is no part of the public API). The apply
// micro-benchmarks measure the apply path itself, below the API, on purpose, and the
// detection-cost bench the schema watch's and the apply's catalog reads: they are the two named
// exceptions.
const CALLERS = '^(lab-stack|provider/(cli|resource|console|demo|azure|localpg))/';
const TOOLS = '^(bench|faults)/';
const BELOW_THE_API = ['bench/drainLab.ts', 'bench/lagLab.ts', 'bench/applyMicro.ts', 'bench/parallelApplyLab.ts'];
const DETECTION_BENCH = 'bench/detectionCost.ts';

// The layers around the ranks, each said once here (eslint and the unit tests no longer repeat them).
const NPM = (pattern) => `^node_modules/(${pattern})/`;
const LAYERS = [
  {
    name: 'engine-no-pulumi',
    comment: 'the engine never imports Pulumi: the resource layer holds no migration logic, the engine no Pulumi',
    from: { path: `^${ENGINE}/` },
    to: { path: NPM('@pulumi/[^/]+') },
  },
  {
    name: 'core-is-the-kernel',
    comment: 'engine/core (errors, codes, model, names) imports its own files and Node only: no package',
    from: { path: `^${ENGINE}/core/` },
    to: { path: '^node_modules/' },
  },
  {
    name: 'decode-is-pure',
    comment:
      "cdc/decode is pure, as pg-protocol keeps its parser: bytes in, typed changes out; it imports only its own files and the kernel's printing helper (core/printedName.ts, which imports nothing), so a name in a description prints as every message prints it",
    from: { path: `^${ENGINE}/cdc/decode/` },
    to: { pathNot: [`^${ENGINE}/cdc/decode/[^/]+$`, `^${ENGINE}/core/printedName\\.ts$`, '^(buffer|node:buffer)$'] },
  },
  {
    name: 'ledger-in-footprint',
    comment:
      'the footprint ledger is read and written by engine/footprint/ alone: each change owns its rows, so a change is whole in its module',
    from: { path: `^${ENGINE}/`, pathNot: `^${ENGINE}/footprint/` },
    to: { path: `^${ENGINE}/footprint/ledger\\.ts$` },
  },
  {
    name: 'resource-no-driver-no-cli',
    comment: 'the Pulumi layer opens no sessions (no pg) and imports nothing of the CLI: what both need is in provider/azure',
    from: { path: '^provider/resource/' },
    to: { path: [NPM('pg|pg-[^/]+'), '^provider/cli/'] },
  },
  {
    name: 'azure-is-shared',
    comment: 'provider/azure serves the CLI, the resource and the lab: it imports none of them, no Pulumi and no pg',
    from: { path: '^provider/azure/' },
    to: { path: [NPM('@pulumi/[^/]+|pg|pg-[^/]+'), '^provider/(cli|resource)/', '^lab-stack/'] },
  },
].map((rule) => ({ severity: 'error', ...rule }));

module.exports = {
  forbidden: [
    ...rankRules(),
    ...LAYERS,
    {
      name: 'public-entry',
      comment: 'the product\'s callers import provider/engine/index.ts only (docs/architecture.md, "The product and its tools")',
      severity: 'error',
      from: { path: CALLERS },
      to: { path: `^${ENGINE}/.+`, pathNot: `^${escape(ENGINE)}/index\\.ts$` },
    },
    {
      name: 'public-entry',
      comment: "the tools import provider/engine/index.ts and the tools' entry, engine/internal.ts, only",
      severity: 'error',
      from: { path: TOOLS, pathNot: [...BELOW_THE_API, DETECTION_BENCH].map((f) => `^${escape(f)}$`) },
      to: { path: `^${ENGINE}/.+`, pathNot: `^${escape(ENGINE)}/(index|internal)\\.ts$` },
    },
    {
      name: 'public-entry',
      comment: "the apply micro-benchmarks reach the apply path (cdc/apply, cdc/plan), the public index and the tools' entry, nothing else",
      severity: 'error',
      from: { path: BELOW_THE_API.map((f) => `^${escape(f)}$`) },
      to: { path: `^${ENGINE}/.+`, pathNot: [`^${escape(ENGINE)}/(index|internal)\\.ts$`, `^${ENGINE}/cdc/(apply|plan)/`] },
    },
    {
      name: 'public-entry',
      comment: 'the detection-cost bench reaches the schema watch, its comparison, the apply path and the two entries, nothing else',
      severity: 'error',
      from: { path: `^${escape(DETECTION_BENCH)}$` },
      to: {
        path: `^${ENGINE}/.+`,
        pathNot: [`^${escape(ENGINE)}/(index|internal)\\.ts$`, `^${ENGINE}/cdc/apply/`, `^${ENGINE}/flow/schema(Watch|Follow)\\.ts$`],
      },
    },
    {
      name: 'no-cycle',
      comment:
        'no import cycle anywhere in the tree (the engine, the resource, the CLI, the lab stack, bench, faults, the root program), type-only imports too',
      severity: 'error',
      from: { path: '^((provider|bench|faults|lab-stack)/|index\\.ts$)' },
      // one pattern: dependency-cruiser turns a list into one only for from and to, not for viaOnly
      to:
        EXCEPTIONS.length === 0
          ? { circular: true }
          : { circular: true, viaOnly: { pathNot: EXCEPTIONS.map((e) => exactly(e.from)).join('|') } },
    },
  ],
  options: {
    includeOnly: '^((provider|bench|faults|lab-stack|node_modules)/|index\\.ts$)',
    doNotFollow: { path: '^node_modules/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.d\\.ts$' },
  },
};
// The rank table for test/unit/layoutDoc.test.ts; not enumerable, so dependency-cruiser's own
// check of its configuration, which refuses keys it does not know, does not see it.
Object.defineProperty(module.exports, 'RANKS', { value: RANKS, enumerable: false });

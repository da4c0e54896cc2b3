// The shape of the code, checked by `npm run check:layers` (dependency-cruiser) at the start of `npm test`.
//
// Layers import downward only:
//   entry points -> http, jobs and the CLI -> domain services -> repositories and adapters
//   -> domain models -> shared helpers
// Import cycles are refused between modules and between folders. Development tools (the Heroku
// simulator, the embedded default, the demo) are never imported by production code, and the backup
// engine is used only through its public entry, src/engine/index.ts.
//
// A layer is a set of path patterns (a folder, a file-name suffix or named files); `not` lists what
// the patterns would also catch but belongs elsewhere. Files of the domain folders (backups, forks,
// heroku, ...) that no pattern names are domain services: only entry points, interfaces and other
// services may import them. A file in src/ outside every layer fails the check until it is given one.

/** Entry points and interfaces are whole folders; nothing below them may live there. */
const TOP = '^src/(bin|processes|http|jobs|cli)/';
/** Development tools (the Heroku simulator, the embedded default, the demo): never in production code. */
const DEV_TOOLS = ['^dev/'];

const LAYERS = [
  { name: 'entry', path: ['^src/bin/', '^src/processes/'] },
  { name: 'interface', path: ['^src/http/', '^src/jobs/', '^src/cli/'] },
  {
    name: 'service',
    path: [
      '[.]service[.]ts$',
      '^src/(api-tokens|audit|backups|connect|forks|heroku|links|preflight|provisioning|resources|sso|users)/',
      '^src/notifications/',
    ],
    // Whatever the lower layers name in these folders is theirs.
    not: () => [TOP, ...lower('service')],
  },
  {
    name: 'adapter', // repositories and adapters: our database, storage, queue, engine, Heroku client, network guard
    path: [
      '[.]repo[.]ts$',
      '^src/(db|storage|queue|engine|net)/',
      '^src/heroku/(oauth-client|platform-api|connect-api)[.]ts$',
      '^src/notifications/mailer[.]ts$',
    ],
    not: () => [TOP],
  },
  {
    name: 'model', // domain types and rules: no I/O
    path: [
      '^src/backups/(backup|schedule|retention|staleness|zoned-time|throughput-samples|log-buffer)[.]ts$',
      '^src/resources/(plans|regions)[.]ts$',
      '^src/users/actor[.]ts$',
      '^src/sso/sso-token[.]ts$',
      '^src/forks/errors[.]ts$',
      '^src/preflight/(finding|duration-estimate)[.]ts$',
      '^src/notifications/(events|syslog-frames|webhook-signature)[.]ts$',
    ],
    not: () => [TOP],
  },
  {
    name: 'shared',
    path: ['^src/shared/', '^src/crypto/', '^src/types/', '^src/(config|errors|logger|validate)[.]ts$'],
  },
];

function lower(name) {
  const index = LAYERS.findIndex((layer) => layer.name === name);
  return LAYERS.slice(index + 1).flatMap((layer) => layer.path);
}

const match = (layer) => ({ path: layer.path, ...(layer.not ? { pathNot: layer.not() } : {}) });

/** One rule per pair: a layer importing any layer above it. */
const downwardOnly = LAYERS.flatMap((layer, index) =>
  LAYERS.slice(0, index).map((upper) => ({
    name: `${layer.name}-imports-${upper.name}`,
    comment: `A ${layer.name} module imports a ${upper.name} module: layers import downward only (see .dependency-cruiser.cjs).`,
    severity: 'error',
    from: match(layer),
    to: match(upper),
  })),
);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle between modules. Move what both need into a module below them.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      comment: 'Folders import each other in a cycle. Move the odd file into the folder (and layer) it belongs to.',
      severity: 'error',
      scope: 'folder',
      from: { pathNot: DEV_TOOLS },
      to: { circular: true },
    },
    ...downwardOnly,
    {
      name: 'no-layer',
      comment:
        'This file is in no layer: give it one in .dependency-cruiser.cjs (or move it to the folder of its layer).',
      severity: 'error',
      from: { path: '^src/', pathNot: [...LAYERS.flatMap((layer) => layer.path), ...DEV_TOOLS] },
      to: {},
    },
    {
      name: 'no-layer-imported',
      comment: 'This import reaches a file in no layer: give it one in .dependency-cruiser.cjs.',
      severity: 'error',
      from: {},
      to: { path: '^src/', pathNot: [...LAYERS.flatMap((layer) => layer.path), ...DEV_TOOLS] },
    },
    {
      name: 'no-dev-tools-in-production',
      comment: 'Production code imports a development tool (dev/): the production build must not reach it.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^dev/' },
    },
    {
      name: 'engine-only-through-its-entry',
      comment: 'Code outside the engine imports one of its internals: use src/engine/index.ts.',
      severity: 'error',
      from: { pathNot: '^src/engine/' },
      to: { path: '^src/engine/', pathNot: '^src/engine/index[.]ts$' },
    },
    {
      name: 'no-tests-in-production',
      comment: 'Production code imports test code.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a layer that needs an upper layer's types depends on it as much.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^src/types/' },
  },
};

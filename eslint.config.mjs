// ESLint: type-aware rules everywhere (no floating promises), and import fences by folder along
// the runtime boundaries (docs/ARCHITECTURE.md, "Folders and what may import what", is this list's
// mirror, row for row):
//   contracts/            pure: @temporalio/common and src/domain only (the client and the sandbox load it)
//   workflows/            sandbox only: no Node built-ins, no I/O, no src/ but src/domain, activities as types
//   src/client/           thin: contracts/, @temporalio/client|common and the client's share of src/temporal/
//   client's src/temporal what src/client/ loads of src/temporal/: no config, no I/O beyond Temporal
//   everything else       (src/, activities/, bench/, test/helpers/) never imports a workflow value
// Each file gets exactly one fence (later blocks would replace an earlier block's rule options).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert',
  'buffer',
  'child_process',
  'cluster',
  'crypto',
  'dgram',
  'dns',
  'events',
  'fs',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'path',
  'perf_hooks',
  'process',
  'readline',
  'stream',
  'timers',
  'tls',
  'url',
  'util',
  'v8',
  'vm',
  'worker_threads',
  'zlib',
];

const builtinPaths = (message) =>
  nodeBuiltins.flatMap((m) => [
    { name: m, message },
    { name: `node:${m}`, message },
  ]);

/** What src/client/ may load of src/temporal/ (each of them loads only Temporal and contracts/). */
const clientTemporal = [
  'start',
  'idempotent-start',
  'rollout-starts',
  'connection-options',
  'payload-codec',
  'codec-keys',
];

const noWorkflowValues = {
  regex: '^(\\.\\./)+workflows(/|$)',
  allowTypeImports: true,
  message:
    'start workflows by name through their contract (contracts/, src/temporal/start.ts): no workflow value outside workflows/',
};

/** The fences, by folder: docs/ARCHITECTURE.md's import table lists the same rows. */
export const fences = [
  {
    name: 'contracts',
    files: ['contracts/**/*.ts'],
    mayImport: '`@temporalio/common`, `src/domain/`, each other',
    paths: builtinPaths('contracts are pure: no Node built-ins'),
    patterns: [
      {
        regex: '^(?!\\./|@temporalio/common$|(\\.\\./)+src/domain/)',
        message: 'contracts/ imports only @temporalio/common, src/domain and other contracts',
      },
    ],
  },
  {
    name: 'workflows',
    files: ['workflows/**/*.ts'],
    mayImport:
      '`@temporalio/workflow`, `contracts/`, `src/domain/`, _types_ from `activities/` and the rest of `src/`',
    paths: [
      ...builtinPaths('workflows are deterministic: no Node built-ins'),
      { name: 'pg', message: 'no I/O in workflows: call an activity' },
      { name: 'ioredis', message: 'no I/O in workflows: call an activity' },
      { name: 'express', message: 'no I/O in workflows: call an activity' },
      { name: 'pino', message: 'use log from @temporalio/workflow' },
      { name: '@temporalio/client', message: 'workflows use @temporalio/workflow only' },
      { name: '@temporalio/worker', message: 'workflows use @temporalio/workflow only' },
      { name: '@temporalio/activity', message: 'workflows use @temporalio/workflow only' },
    ],
    // By folder, whatever the depth of the importing file (workflows/*.ts, workflows/*/*.ts): any
    // relative path into activities/ or src/ outside src/domain/ is refused, unless it imports
    // types only. contracts/ is pure and shared with the callers.
    patterns: [
      {
        regex: '^(\\.\\./)+activities(/|$)',
        allowTypeImports: true,
        message: 'workflows may import activity types only: call the activity through proxyActivities',
      },
      {
        regex: '^(\\.\\./)+src/(?!domain(/|$))',
        allowTypeImports: true,
        message: 'workflows may import src/domain only (and types from elsewhere): no I/O in workflows',
      },
    ],
  },
  {
    name: 'client',
    files: ['src/client/**/*.ts'],
    mayImport:
      "`contracts/`, `@temporalio/client`, `@temporalio/common`, the client's share of `src/temporal/` (next row)",
    paths: [],
    patterns: [
      {
        regex: `^(?!\\./|@temporalio/(client|common)$|(\\.\\./)+contracts(/|$)|\\.\\./temporal/(${clientTemporal.join('|')})$)`,
        message:
          'src/client/ is what the Vercel app loads: contracts/, @temporalio/client and the client share of src/temporal only (no config, no workflows)',
      },
    ],
  },
  {
    name: 'client-temporal',
    files: clientTemporal.map((f) => `src/temporal/${f}.ts`),
    mayImport: '`@temporalio/{client,common,proto}`, `node:crypto`, `node:zlib`, `contracts/`, each other',
    paths: [],
    patterns: [
      {
        regex: `^(?!@temporalio/(client|common|proto)$|@temporalio/common/lib/internal-non-workflow$|node:(crypto|zlib)$|(\\.\\./)+contracts(/|$)|\\./(${clientTemporal.join('|')})$)`,
        message: 'the client loads this file: Temporal, contracts/ and the client share of src/temporal only',
      },
    ],
  },
  {
    name: 'outside-workflows',
    files: ['src/**/*.ts', 'activities/**/*.ts', 'bench/**/*.ts', 'test/helpers/**/*.ts'],
    ignores: ['src/client/**', ...clientTemporal.map((f) => `src/temporal/${f}.ts`)],
    mayImport: 'anything but workflow values (`import type` from `workflows/` only)',
    paths: [],
    patterns: [noWorkflowValues],
  },
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.data/**',
      'coverage/**',
      '**/*.js',
      '**/*.mjs',
      'examples/**',
      'src/digitalocean/generated/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests read untyped JSON answers; `any` there keeps assertions readable.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  ...fences.map(({ files, ignores, paths, patterns }) => ({
    files,
    ...(ignores ? { ignores } : {}),
    rules: { 'no-restricted-imports': ['error', { paths, patterns }] },
  })),
);

// ESLint: type-aware rules everywhere (no floating promises), and a fence around workflows/:
// workflow code is replayed deterministically, so it may not import Node built-ins, I/O libraries
// or activity implementations (only their types).
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
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.flatMap((m) => [
              { name: m, message: 'workflows are deterministic: no Node built-ins' },
              { name: `node:${m}`, message: 'workflows are deterministic: no Node built-ins' },
            ]),
            { name: 'pg', message: 'no I/O in workflows: call an activity' },
            { name: 'ioredis', message: 'no I/O in workflows: call an activity' },
            { name: 'express', message: 'no I/O in workflows: call an activity' },
            { name: 'pino', message: 'use log from @temporalio/workflow' },
            { name: '@temporalio/client', message: 'workflows use @temporalio/workflow only' },
            { name: '@temporalio/worker', message: 'workflows use @temporalio/workflow only' },
            { name: '@temporalio/activity', message: 'workflows use @temporalio/workflow only' },
          ],
          // By folder, whatever the depth of the importing file (workflows/*.ts, workflows/*/*.ts):
          // any relative path into activities/ or src/ outside src/domain/ is refused, unless it
          // imports types only. src/temporal/search-attributes is pure (typed keys from
          // @temporalio/common) and shared with the client, so a workflow may set them on a child.
          patterns: [
            {
              regex: '^(\\.\\./)+activities(/|$)',
              allowTypeImports: true,
              message: 'workflows may import activity types only: call the activity through proxyActivities',
            },
            {
              regex: '^(\\.\\./)+src/(?!domain(/|$)|temporal/search-attributes$)',
              allowTypeImports: true,
              message: 'workflows may import src/domain only (and types from elsewhere): no I/O in workflows',
            },
          ],
        },
      ],
    },
  },
);

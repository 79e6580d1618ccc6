import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.next/**', 'dist/**', 'dist.tmp-*/**', '.plexichat/**', 'db/migrations/**', 'next-env.d.ts', 'tests/artifacts/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // The engine is framework-free: the CLI and workers use it too (restic's depguard, as an ESLint rule).
    files: ['server/engine/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['next', 'next/*', 'react', 'react-dom', '@trpc/*', 'next-auth', 'next-auth/*'], message: 'server/engine must not depend on the web framework.' }] },
      ],
    },
  },
  {
    files: ['components/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/db/*', '**/db', '@/db/*', '**/server/engine/**', '@/server/engine/**'], allowTypeImports: true, message: 'components talk to the server through tRPC only.' }] },
      ],
    },
  },
);

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Builds dist/ before any test runs. Tests import the sources, but the ones that start the gateway as
 * a user does (`node bin/batchgate.js`, `npm start`) run the compiled code; building here, on every run,
 * means those tests always run what the sources say, never a dist/ left over from an older checkout.
 * The build is incremental (dist/.tsbuildinfo), so an unchanged tree costs a few seconds.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const result = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`npm run build failed (exit ${result.status}); tests that run bin/batchgate.js need dist/:\n${result.stdout}${result.stderr}`);
  }
}

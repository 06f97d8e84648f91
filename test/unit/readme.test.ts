/** The README's configuration table names every variable the schema reads. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configVariables } from '../../src/config';

it('documents every configuration variable in README.md', () => {
  const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
  const missing = configVariables.filter((v) => !readme.includes(`\`${v}\``));
  expect(missing).toEqual([]);
});

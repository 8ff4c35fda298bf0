// Supply chain (docs/hardening.md): every dependency is pinned by the lockfile to a registry tarball with an
// integrity hash, package.json has no open-ended ranges, and no dependency runs an install script that has not
// been read (the ones below were: neither downloads anything).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/cli.js';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8'));
const REVIEWED_INSTALL_SCRIPTS: Record<string, string> = {
  'node_modules/protobufjs': 'postinstall: mkdir cli/node_modules and a version-scheme warning',
  'node_modules/@parcel/watcher': 'install: node-gyp rebuild only with npm_config_build_from_source=true (prebuilt otherwise)',
};

test('package.json: no *, latest, tag, git, url or file ranges', () => {
  const all = { ...pkg.dependencies, ...pkg.devDependencies, ...pkg.optionalDependencies } as Record<string, string>;
  const open = Object.entries(all).filter(([, range]) => !/^[\^~]?\d+\.\d+\.\d+$/.test(range));
  expect(open).toEqual([]);
});

test('the lockfile records exactly package.json\'s ranges (npm ci would refuse otherwise)', () => {
  const root = lock.packages[''];
  expect(root.dependencies ?? {}).toEqual(pkg.dependencies ?? {});
  expect(root.devDependencies ?? {}).toEqual(pkg.devDependencies ?? {});
});

test('every locked package has an integrity hash, and a registry tarball where the lockfile names one', () => {
  const bad = Object.entries(lock.packages as Record<string, { resolved?: string; integrity?: string; link?: boolean }>)
    .filter(([path, p]) => path !== '' && !p.link)
    .filter(([, p]) => (p.resolved !== undefined && !p.resolved.startsWith('https://registry.npmjs.org/')) || !/^sha512-/.test(p.integrity ?? ''))
    .map(([path, p]) => `${path}: ${p.resolved ?? 'no resolved'} ${p.integrity ?? 'no integrity'}`);
  expect(bad).toEqual([]);
});

test('install scripts of dependencies: only the reviewed ones', () => {
  const withScripts = Object.entries(lock.packages as Record<string, { hasInstallScript?: boolean }>)
    .filter(([path, p]) => path !== '' && p.hasInstallScript).map(([path]) => path).sort();
  expect(withScripts).toEqual(Object.keys(REVIEWED_INSTALL_SCRIPTS).sort());
});

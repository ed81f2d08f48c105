// The dashboard is a handful of static files: our page, script and styles, plus uPlot's build from
// node_modules so the page needs no network beyond the admin port. They are read once at startup
// and served from memory.

import { access, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface StaticAsset {
  body: Buffer;
  contentType: string;
}

const OWN_FILES = [
  { route: '/', file: 'index.html', contentType: 'text/html; charset=utf-8' },
  { route: '/dashboard/dashboard.js', file: 'dashboard.js', contentType: 'text/javascript; charset=utf-8' },
  {
    route: '/dashboard/dashboard-charts.js',
    file: 'dashboard-charts.js',
    contentType: 'text/javascript; charset=utf-8',
  },
  { route: '/dashboard/dashboard.css', file: 'dashboard.css', contentType: 'text/css; charset=utf-8' },
];

const UPLOT_FILES = [
  {
    route: '/dashboard/uplot.js',
    module: 'uplot/dist/uPlot.iife.min.js',
    contentType: 'text/javascript; charset=utf-8',
  },
  {
    route: '/dashboard/uplot.css',
    module: 'uplot/dist/uPlot.min.css',
    contentType: 'text/css; charset=utf-8',
  },
];

// The compiler copies only .ts files, so a built server finds the page beside its sources instead.
const ASSET_DIR_CANDIDATES = ['./', '../../../../src/admin/dashboard/'];

export async function loadDashboardAssets(): Promise<Map<string, StaticAsset>> {
  const dir = await findAssetDir();
  const require = createRequire(import.meta.url);
  const assets = new Map<string, StaticAsset>();
  for (const { route, file, contentType } of OWN_FILES) {
    assets.set(route, { body: await readFile(new URL(file, dir)), contentType });
  }
  for (const { route, module, contentType } of UPLOT_FILES) {
    assets.set(route, { body: await readFile(require.resolve(module)), contentType });
  }
  return assets;
}

async function findAssetDir(): Promise<URL> {
  for (const candidate of ASSET_DIR_CANDIDATES) {
    const dir = new URL(candidate, import.meta.url);
    try {
      await access(new URL('index.html', dir));
      return dir;
    } catch {
      // try the next place
    }
  }
  throw new Error(`dashboard assets not found beside ${fileURLToPath(new URL('./', import.meta.url))}`);
}

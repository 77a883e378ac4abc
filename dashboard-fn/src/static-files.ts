import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { InfralogsError } from '@infralogs/core';

/**
 * The files the page loads: the function's own `static/` folder (app.js, app.css) and the BokehJS
 * bundles, served straight from the installed `@bokeh/bokehjs` package (never copied into the
 * repository). Only names on an allowlist are served, so no request path ever reaches the disk.
 */

/**
 * The bundles the page needs, in load order (bokeh-api after the core). Not bokeh-widgets: the
 * page has no Bokeh inputs, and the tables bundle carries the widget base its DataTable needs
 * (382 KB less script to parse on every load).
 */
export const BOKEH_BUNDLES = ['bokeh.min.js', 'bokeh-tables.min.js', 'bokeh-api.min.js'] as const;

/** `build/js/` of the installed BokehJS; the package has no `exports` map, so deep paths resolve. */
export function bokehDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@bokeh/bokehjs/package.json')), 'build', 'js');
}

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/** Own static files: a flat folder of plain names, no dots other than the extension. */
const OWN_FILE = /^[a-z0-9-]+\.(js|css)$/;

export interface StaticFile {
  body: Buffer;
  contentType: string;
  cacheControl: string;
}

export interface StaticFiles {
  /** The file for a path under `/static/`, or NOT_FOUND. */
  get(path: string): Promise<StaticFile>;
}

export function createStaticFiles(options: { staticDir: string; bokehDir?: string }): StaticFiles {
  const cache = new Map<string, Promise<Buffer>>();
  const read = (file: string) => {
    let body = cache.get(file);
    if (!body) {
      body = readFile(file);
      // A missing file is not remembered: it may be deployed later.
      body.catch(() => cache.delete(file));
      cache.set(file, body);
    }
    return body;
  };
  const notFound = (path: string) =>
    new InfralogsError('NOT_FOUND', `no static file ${path.slice(0, 100)}`, {
      details: { path: path.slice(0, 100) },
    });

  return {
    async get(path) {
      let file: string;
      let cacheControl: string;
      const vendor = /^\/static\/vendor\/([^/]+)$/.exec(path)?.[1];
      const own = /^\/static\/([^/]+)$/.exec(path)?.[1];
      if (vendor !== undefined && (BOKEH_BUNDLES as readonly string[]).includes(vendor)) {
        file = join(options.bokehDir ?? bokehDir(), vendor);
        // Same URL for every BokehJS version: cache for a while, not forever.
        cacheControl = 'public, max-age=3600';
      } else if (own !== undefined && OWN_FILE.test(own)) {
        file = join(options.staticDir, own);
        cacheControl = 'no-cache';
      } else {
        throw notFound(path);
      }
      const ext = file.slice(file.lastIndexOf('.') + 1);
      try {
        return { body: await read(file), contentType: TYPES[ext]!, cacheControl };
      } catch {
        throw notFound(path);
      }
    },
  };
}

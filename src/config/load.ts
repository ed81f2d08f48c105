import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Document, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { TrustedProxies } from '../http/client-ip.js';
import { type Interpolation, interpolateEnv, restoreText } from './interpolate.js';
import { keyPath } from './key-path.js';
import { configSchema, type ParsedConfig } from './schema.js';
import { readTlsMaterial, type TlsMaterial } from './tls-files.js';

type ParsedRegion = ParsedConfig['regions'][string];

export interface RegionConfig extends Omit<ParsedRegion, 'capacity'> {
  name: string;
  capacity: ParsedRegion['capacity'] & { burst: number; minConcurrent: number };
}

export type ClientLimitConfig = NonNullable<ParsedConfig['clientLimit']> & { burst: number };

/** A validated config with every default filled in. */
export interface GatewayConfig extends Omit<ParsedConfig, 'regions' | 'clientLimit'> {
  regions: Record<string, RegionConfig>;
  clientLimit?: ClientLimitConfig;
  /** The certificate files the config names, as read when it was loaded. */
  tlsMaterial: TlsMaterial;
}

/** Every problem in a config file, each as `FILE: key.path: what is wrong`. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export async function loadConfigFile(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([
      `${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  return parseConfigText(text, file, env);
}

export function parseConfigText(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): GatewayConfig {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (document.errors.length > 0) {
    throw new ConfigError(
      document.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return `${file}: line ${line}, column ${col}: ${firstLine(e.message)}`;
      }),
    );
  }
  const raw = documentToJs(document, file);
  const found: Interpolation = { problems: [], typed: [] };
  const interpolated = interpolateEnv(raw, env, found);
  const problems = found.problems.map((p) => `${file}: ${keyPath(p.path)}: ${p.message}`);
  const unresolved = new Set(found.problems.map((p) => keyPath(p.path)));
  let parsed = configSchema.safeParse(interpolated);
  // `token: "${TOKEN}"` with TOKEN=20261201 was read as a number: a key wanting a string gets the text.
  if (!parsed.success && restoreText(interpolated, found.typed, wantsString(parsed.error.issues)))
    parsed = configSchema.safeParse(interpolated);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // A key whose variable is missing already has its problem; its placeholder would only add noise.
      if (!unresolved.has(keyPath(issue.path))) problems.push(...describeIssue(file, issue, interpolated));
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const resolved = resolveDefaults(parsed.data);
  const referenceProblems = checkReferences(resolved).map((p) => `${file}: ${p}`);
  if (referenceProblems.length > 0) throw new ConfigError(referenceProblems);
  const { material, problems: fileProblems } = readTlsMaterial(resolved, dirname(file));
  if (fileProblems.length > 0) throw new ConfigError(fileProblems.map((p) => `${file}: ${p}`));
  return { ...resolved, tlsMaterial: material };
}

function resolveDefaults(parsed: ParsedConfig): Omit<GatewayConfig, 'tlsMaterial'> {
  const regions: Record<string, RegionConfig> = {};
  for (const [name, region] of Object.entries(parsed.regions)) {
    const { capacity } = region;
    regions[name] = {
      ...region,
      name,
      capacity: {
        ...capacity,
        // One second's worth of tokens is the burst most operators expect when they name only a rate.
        burst: capacity.burst ?? Math.max(1, capacity.rps),
        minConcurrent: capacity.minConcurrent ?? Math.min(8, capacity.maxConcurrent),
      },
    };
  }
  const clientLimit = parsed.clientLimit && {
    ...parsed.clientLimit,
    burst: parsed.clientLimit.burst ?? Math.max(1, parsed.clientLimit.rps),
  };
  return { ...parsed, regions, clientLimit };
}

function checkReferences(config: Omit<GatewayConfig, 'tlsMaterial'>): string[] {
  const problems: string[] = [];
  const names = Object.keys(config.regions);
  if (!Object.hasOwn(config.regions, config.routing.default)) {
    problems.push(
      `routing.default: names no configured region "${config.routing.default}" (have ${names.join(', ')})`,
    );
  }
  for (const region of Object.values(config.regions)) {
    region.failover.forEach((target, i) => {
      const at = keyPath(['regions', region.name, 'failover', i]);
      if (target === region.name) problems.push(`${at}: a region may not fail over to itself`);
      else if (!Object.hasOwn(config.regions, target))
        problems.push(`${at}: names no configured region "${target}"`);
    });
    const { capacity } = region;
    if (capacity.minConcurrent > capacity.maxConcurrent) {
      problems.push(
        `${keyPath(['regions', region.name, 'capacity', 'minConcurrent'])}: must not exceed maxConcurrent (${capacity.maxConcurrent})`,
      );
    }
  }
  config.trustedProxies.forEach((entry, i) => {
    try {
      new TrustedProxies([entry]);
    } catch {
      problems.push(`trustedProxies.${i}: "${entry}" is not an address or CIDR`);
    }
  });
  if (config.listen.headersTimeoutMs > config.listen.requestTimeoutMs) {
    problems.push(
      `listen.headersTimeoutMs: must not exceed listen.requestTimeoutMs (${config.listen.requestTimeoutMs})`,
    );
  }
  if (sharesAnAddress(config.listen, config.admin)) {
    problems.push(
      `admin.port: must differ from listen.port (${config.listen.port}): both would bind the same address`,
    );
  }
  const { high, normal, low } = config.shedding.reserve;
  if (!(high <= normal && normal <= low)) {
    problems.push(
      'shedding.reserve: must keep high <= normal <= low, or lower priorities would outrank higher ones',
    );
  }
  return problems;
}

const ANY_ADDRESS = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0', 'localhost']);

/** Two listeners on one fixed port whose hosts overlap: the second bind fails with EADDRINUSE. */
function sharesAnAddress(a: { host: string; port: number }, b: { host: string; port: number }): boolean {
  if (a.port === 0 || a.port !== b.port) return false;
  return a.host === b.host || ANY_ADDRESS.has(a.host) || ANY_ADDRESS.has(b.host);
}

function describeIssue(file: string, issue: z.core.$ZodIssue, input: unknown): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${file}: ${keyPath([...issue.path, key])}: unknown key`);
  }
  // zod's own message for a refused map key is "Invalid key in record"; the key's schema says why.
  if (issue.code === 'invalid_key') {
    return issue.issues.map((inner) => `${file}: ${keyPath(issue.path)}: ${inner.message}`);
  }
  const missing = issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined;
  return [`${file}: ${keyPath(issue.path)}: ${missing ? 'is required' : issue.message}`];
}

function valueAt(tree: unknown, path: PropertyKey[]): unknown {
  let node = tree;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function documentToJs(document: Document, file: string): unknown {
  try {
    return document.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    // Unresolved aliases and alias bombs surface here rather than as parse errors.
    throw new ConfigError([`${file}: ${firstLine((err as Error).message)}`]);
  }
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/** The paths (as JSON) where the schema wanted a string and got something else. */
function wantsString(issues: readonly z.core.$ZodIssue[]): Set<string> {
  const paths = new Set<string>();
  for (const issue of issues)
    if (issue.code === 'invalid_type' && issue.expected === 'string') paths.add(JSON.stringify(issue.path));
  return paths;
}

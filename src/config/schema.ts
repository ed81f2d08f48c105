import { isIP } from 'node:net';
import { z } from 'zod';
import { parseRedisUrl, parseUpstreamOrigin, UPSTREAM_SHAPE, UPSTREAM_SHAPE_PROBLEM } from './origins.js';

// One schema for YAML and JSON files, for validation, defaults and `floodgate schema`.
// Every object is strict so a typo is an error, never a silently ignored key. Defaults sit next to
// their fields; the few that depend on another field (burst, minConcurrent) are filled in by
// `resolveDefaults` in load.ts because JSON Schema cannot express them.

const positive = () => z.number({ error: 'must be a positive number' }).positive('must be a positive number');
const positiveInt = () =>
  z.int({ error: 'must be a positive whole number' }).positive('must be a positive whole number');
const nonNegativeInt = () =>
  z.int({ error: 'must be a whole number >= 0' }).nonnegative('must be a whole number >= 0');
const fraction = () =>
  z
    .number({ error: 'must be a number between 0 and 1' })
    .min(0, 'must be a number between 0 and 1')
    .lt(1, 'must be a number between 0 and 1 (exclusive)');
// Node's timers cannot wait longer than 2^31-1 ms (a longer wait fires after 1 ms), and some waits
// add a margin to a configured time (a worker's drain), so every time that reaches a timer stays below.
const MAX_TIMER_MS = 2_000_000_000;
const timerMs = () => positiveInt().max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS} (about 23 days)`);
const port = () =>
  z
    .int({ error: 'must be a port number (0-65535)' })
    .min(0, 'must be a port number (0-65535)')
    .max(65535, 'must be a port number (0-65535)');
// What net.Server#listen can bind: an IP address, or a name the resolver is asked about.
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const host = () =>
  z
    .string({ error: 'must be a host name or address' })
    .min(1, 'must not be empty')
    .refine(
      (h) => isIP(h) !== 0 || HOST_NAME.test(h),
      'must be an IP address (no brackets around IPv6) or a host name, e.g. 0.0.0.0 or ::',
    );

export const PRIORITY_NAMES = ['critical', 'high', 'normal', 'low'] as const;
const priority = () => z.enum(PRIORITY_NAMES, { error: `must be one of ${PRIORITY_NAMES.join(', ')}` });

/** Parsed as the upstream pool will parse it, and kept in the parser's spelling (see origins.ts). */
const upstreamUrl = z
  .string({ error: 'must be an http:// or https:// origin' })
  .regex(UPSTREAM_SHAPE, UPSTREAM_SHAPE_PROBLEM)
  .transform((text, ctx) => {
    const parsed = parseUpstreamOrigin(text);
    if (parsed.ok) return parsed.url;
    ctx.issues.push({ code: 'custom', message: parsed.problem, input: text });
    return z.NEVER;
  });

const cidr = z
  .string({ error: 'must be an address or CIDR' })
  .regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, 'must be an address or CIDR, e.g. 10.0.0.0/8');

// Said in full: as a key of `regions`, this message is all the operator is told about the name.
const regionName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
    'invalid region name: must start with a letter or digit, then only letters, digits, ".", "_" or "-"',
  );

const filePath = () => z.string({ error: 'must be a file path' }).min(1, 'must not be empty');

// The files are read, and checked to make a usable key pair, when the config is loaded (tls-files.ts).
const listenTlsSchema = z.strictObject({
  cert: filePath(),
  key: filePath(),
  passphrase: z.string().optional(),
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3'], { error: 'must be TLSv1.2 or TLSv1.3' }).default('TLSv1.2'),
  /** An OpenSSL cipher list for TLS 1.2; Node's default list when omitted. */
  ciphers: z.string().min(1, 'must not be empty').optional(),
  /** false offers only HTTP/1.1 by ALPN. */
  http2: z.boolean({ error: 'must be true or false' }).default(true),
});

const upstreamTlsSchema = z.strictObject({
  /** PEM file of the CAs trusted for this region's https upstreams, instead of the system's. */
  ca: filePath().optional(),
  /** SNI and the name the certificate must carry; the upstream URL's host by default. */
  servername: host().optional(),
  rejectUnauthorized: z.boolean({ error: 'must be true or false' }).default(true),
});

const listenSchema = z.strictObject({
  host: host().default('127.0.0.1'),
  port: port().default(8080),
  headersTimeoutMs: timerMs().default(10_000),
  requestTimeoutMs: timerMs().default(30_000),
  keepAliveTimeoutMs: timerMs().default(5_000),
  maxHeaderBytes: positiveInt().max(1_048_576, 'must be at most 1048576').default(16_384),
  maxBodyBytes: nonNegativeInt().default(10_485_760),
  tls: listenTlsSchema.optional(),
});

const adminSchema = z.strictObject({
  host: host().default('127.0.0.1'),
  port: port().default(9901),
  token: z.string().min(1, 'must not be empty (omit the key to leave the admin port unguarded)').optional(),
});

const capacitySchema = z.strictObject({
  rps: positive(),
  burst: positive().optional(),
  maxConcurrent: positiveInt().default(256),
  adaptive: z.boolean({ error: 'must be true or false' }).default(false),
  minConcurrent: positiveInt().optional(),
  // A burst the bucket admits leaves at the refill pace, each request waiting at most this; 0 sends
  // every admitted request at once (nginx's limit_req nodelay).
  paceMaxWaitMs: nonNegativeInt().max(10_000, 'must be at most 10000').default(250),
});

const breakerSchema = z.strictObject({
  errorThresholdPercentage: z
    .number({ error: 'must be a percentage' })
    .gt(0, 'must be above 0')
    .max(100, 'must be at most 100')
    .default(50),
  volumeThreshold: nonNegativeInt().default(20),
  windowMs: timerMs().min(100, 'must be at least 100').default(10_000),
  resetTimeoutMs: timerMs().default(5_000),
});

const regionSchema = z.strictObject({
  upstreams: z
    .array(upstreamUrl, { error: 'must be a list of upstream URLs' })
    .min(1, 'needs at least one upstream'),
  capacity: capacitySchema,
  timeoutMs: timerMs().default(5_000),
  breaker: breakerSchema.prefault({}),
  failover: z.array(regionName, { error: 'must be a list of region names' }).default([]),
  tls: upstreamTlsSchema.optional(),
});

const routingSchema = z.strictObject({
  header: z
    .string()
    .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be a header name')
    .default('x-region'),
  default: regionName,
});

const staleRouteSchema = z.strictObject({ ttlMs: positiveInt().default(60_000) });

const routeSchema = z.strictObject({
  match: z.strictObject({
    pathPrefix: z.string().startsWith('/', 'must start with "/"'),
    methods: z.array(z.string().regex(/^[A-Z]+$/, 'must be an upper-case HTTP method')).optional(),
  }),
  priority: priority().default('normal'),
  staleCache: staleRouteSchema.optional(),
});

const clientKey = z
  .string()
  .regex(/^(ip|header:[A-Za-z0-9!#$%&'*+.^_`|~-]+)$/, 'must be "ip" or "header:NAME"');

const clientLimitSchema = z.strictObject({
  key: clientKey.default('ip'),
  rps: positive(),
  burst: positive().optional(),
  // lru-cache allocates its index for every key up front: 10 million keys are about 200 MB.
  maxKeys: positiveInt().max(10_000_000, 'must be at most 10000000').default(100_000),
});

const staleCacheSchema = z.strictObject({
  maxBytes: positiveInt().default(64 * 1024 * 1024),
  maxEntryBytes: positiveInt().default(1024 * 1024),
});

const reserveSchema = z.strictObject({
  high: fraction().default(0.1),
  normal: fraction().default(0.25),
  low: fraction().default(0.5),
});

const sheddingSchema = z.strictObject({
  mode: z.enum(['enforce', 'shadow'], { error: 'must be enforce or shadow' }).default('enforce'),
  retryAfterSeconds: positiveInt().default(1),
  reserve: reserveSchema.prefault({}),
});

const surgeSchema = z.strictObject({
  factor: z.number({ error: 'must be a number above 1' }).gt(1, 'must be above 1').default(2),
  halfLifeMs: positiveInt().default(600_000),
  minRps: positive().default(10),
  windowMs: positiveInt()
    .min(1_000, 'must be at least 1000')
    .max(5_000, 'must be at most 5000')
    .default(5_000),
  shedBelow: priority().optional(),
  /** Where each region's baseline starts, in req/s; default: the region's own capacity.rps. */
  baselineRps: positive().optional(),
});

const clusterSchema = z.strictObject({
  redis: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .superRefine((text, ctx) => {
      const parsed = parseRedisUrl(text);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.problem, input: text });
    })
    .optional(),
  /** Tokens per lease from the shared bucket; default max(1, rps / 50), at most the burst. */
  leaseSize: positiveInt().optional(),
  /** Gateway instances sharing the limits: without Redis, or while it is unreachable, each enforces 1/instances. */
  instances: positiveInt().default(1),
  /** Prefix of the Redis keys, so several gateway groups can share one Redis. */
  keyPrefix: z.string().min(1, 'must not be empty').default('floodgate'),
  /** A lease that takes longer than this counts as Redis being unreachable. */
  timeoutMs: timerMs().default(100),
});

const logSchema = z.strictObject({
  level: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  access: z.boolean({ error: 'must be true or false' }).default(true),
});

export const configSchema = z.strictObject({
  listen: listenSchema.prefault({}),
  admin: adminSchema.prefault({}),
  trustedProxies: z.array(cidr).default([]),
  shutdownGraceMs: nonNegativeInt().max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS}`).default(10_000),
  /** After SIGTERM, readiness is 503 but the public port keeps serving this long, so balancers notice. */
  drainDelayMs: nonNegativeInt().max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS}`).default(0),
  regions: z
    .record(regionName, regionSchema, { error: 'must be a map of region name to region' })
    .refine((r) => Object.keys(r).length > 0, 'needs at least one region'),
  routing: routingSchema,
  routes: z.array(routeSchema).default([]),
  clientLimit: clientLimitSchema.optional(),
  staleCache: staleCacheSchema.prefault({}),
  shedding: sheddingSchema.prefault({}),
  surge: surgeSchema.prefault({}),
  cluster: clusterSchema.optional(),
  log: logSchema.prefault({}),
});

/** The config as parsed, before dependent defaults are filled in. */
export type ParsedConfig = z.output<typeof configSchema>;

export function configJsonSchema(): object {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}

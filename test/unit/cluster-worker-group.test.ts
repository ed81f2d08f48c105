import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RegionView } from '../../src/admin/admin-view.js';
import { parseWorkerCount } from '../../src/cluster/worker-count.js';
import { WorkerGroup, type WorkerHandle } from '../../src/cluster/worker-group.js';
import type { PrimaryMessage, WorkerMessage } from '../../src/cluster/worker-messages.js';
import { regionView as quietRegion } from '../support/region-view.js';

const VALID = `
regions:
  east: { upstreams: ["http://127.0.0.1:9001"], capacity: { rps: 100 } }
routing: { default: east }
shutdownGraceMs: 1000
`;
const INVALID = 'regions: {}\nrouting: { default: east }\n';

/** A worker that answers like the real one unless told to stay silent. */
class FakeWorker implements WorkerHandle {
  readonly sent: PrimaryMessage[] = [];
  silent = false;
  exitsOnDrain = true;
  private messageListener: ((message: WorkerMessage) => void) | undefined;
  private exitListener: ((code: number | null, signal: string | null) => void) | undefined;

  constructor(readonly id: number) {}

  send(message: PrimaryMessage): void {
    this.sent.push(message);
    if (this.silent) return;
    queueMicrotask(() => this.answer(message));
  }

  onMessage(listener: (message: WorkerMessage) => void): void {
    this.messageListener = listener;
    queueMicrotask(() => listener({ type: 'hello' }));
  }

  onExit(listener: (code: number | null, signal: string | null) => void): void {
    this.exitListener = listener;
  }

  kill(signal: NodeJS.Signals): void {
    this.exit(null, signal);
  }

  emit(message: WorkerMessage): void {
    this.messageListener?.(message);
  }

  exit(code: number | null, signal: string | null = null): void {
    this.exitListener?.(code, signal);
  }

  private answer(message: PrimaryMessage): void {
    switch (message.type) {
      case 'start':
        return this.emit({ type: 'ready', publicUrl: 'http://127.0.0.1:8080' });
      case 'reload':
        return this.emit({ type: 'reloaded', id: message.id, result: { ok: true, version: 2 } });
      case 'metrics':
        return this.emit({ type: 'metrics', id: message.id, metrics: [] });
      case 'drain':
        if (this.exitsOnDrain) this.exit(0);
    }
  }
}

function makeGroup(
  size: number,
  file: { text: string },
  options: { respawnDelayMs?: number; silent?: number[] } = {},
) {
  const workers: FakeWorker[] = [];
  const logs: { event?: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  const group = new WorkerGroup({
    size,
    configPath: 'gateway.yaml',
    fork: () => {
      const worker = new FakeWorker(workers.length + 1);
      worker.silent = options.silent?.includes(worker.id) ?? false;
      workers.push(worker);
      return worker;
    },
    logger: pino({ level: 'info' }, sink),
    readConfigText: async () => file.text,
    respawnDelayMs: options.respawnDelayMs ?? 1000,
    requestTimeoutMs: 2000,
    drainMarginMs: 500,
  });
  return { group, workers, logs };
}

function regionView(forwarded: number): RegionView {
  return quietRegion({
    inflightLimit: 10,
    tokens: 1,
    rps: 100,
    outcomes: { forwarded, failover: 0, stale: 0, shed: 0, error: 0, local: 0 },
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('WorkerGroup', () => {
  it('starts every worker with the same config text once it says hello', async () => {
    // Three workers each receive one start message with the text and the group size.
    const { group, workers } = makeGroup(3, { text: VALID });
    const url = await group.start({ text: VALID, config: {} as never });
    expect(url).toBe('http://127.0.0.1:8080');
    expect(workers).toHaveLength(3);
    for (const w of workers) expect(w.sent).toEqual([{ type: 'start', text: VALID, workers: 3 }]);
    expect(group.ready()).toBe(true);
  });

  it('fails to start when a worker cannot', async () => {
    // A worker that reports a failure makes the group's start reject with its reason.
    const { group, workers } = makeGroup(2, { text: VALID }, { silent: [2] });
    const starting = group.start({ text: VALID, config: {} as never });
    workers[1]!.emit({ type: 'failed', error: 'listen EADDRINUSE' });
    await expect(starting).rejects.toThrow('EADDRINUSE');
  });

  it('validates a reload once and hands every worker the same new text', async () => {
    // A valid file reaches both workers and bumps the group's version; an invalid one reaches none.
    const file = { text: VALID };
    const { group, workers } = makeGroup(2, file);
    await group.start({ text: VALID, config: {} as never });
    file.text = `${VALID}# edited\n`;
    expect(await group.reload()).toEqual({ ok: true, version: 2 });
    for (const w of workers) expect(w.sent.at(-1)).toMatchObject({ type: 'reload', text: file.text });
    file.text = INVALID;
    const rejected = await group.reload();
    expect(rejected.ok).toBe(false);
    for (const w of workers) expect(w.sent.filter((m) => m.type === 'reload')).toHaveLength(1);
    expect(group.configInfo().version).toBe(2);
    expect(group.configInfo().lastError).toContain('gateway.yaml');
  });

  it('reports a reload as failed when a worker does not answer', async () => {
    // A silent worker times out; the reload says which one.
    vi.useFakeTimers();
    const { group, workers } = makeGroup(2, { text: VALID });
    await group.start({ text: VALID, config: {} as never });
    workers[0]!.silent = true;
    const reloading = group.reload();
    await vi.advanceTimersByTimeAsync(2500);
    const result = await reloading;
    expect(result).toEqual({ ok: false, errors: ['worker 1: no answer to the reload'] });
  });

  it('adds up the region views the workers last pushed', async () => {
    // 5 and 7 forwarded requests in two workers show as 12 for the group.
    const { group, workers } = makeGroup(2, { text: VALID });
    await group.start({ text: VALID, config: {} as never });
    workers[0]!.emit({ type: 'state', regions: { east: regionView(5) } });
    workers[1]!.emit({ type: 'state', regions: { east: regionView(7) } });
    expect(group.regions().east!.outcomes.forwarded).toBe(12);
  });

  it('collects metrics from the workers that answer in time', async () => {
    // One worker answers, one stays silent past the timeout: one set of metrics comes back.
    vi.useFakeTimers();
    const { group, workers } = makeGroup(2, { text: VALID });
    await group.start({ text: VALID, config: {} as never });
    workers[1]!.silent = true;
    const collecting = group.collectMetrics();
    await vi.advanceTimersByTimeAsync(2500);
    expect(await collecting).toEqual([[]]);
  });

  it('drains every worker and kills the ones still running after the grace period', async () => {
    // One worker exits when told, the other ignores the drain and is killed after grace + margin.
    vi.useFakeTimers();
    const { group, workers } = makeGroup(2, { text: VALID });
    await group.start({ text: VALID, config: {} as never });
    workers[1]!.exitsOnDrain = false;
    const kill = vi.spyOn(workers[1]!, 'kill');
    const draining = group.drain(1000);
    expect(group.ready()).toBe(false);
    await vi.advanceTimersByTimeAsync(1400);
    expect(kill).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(200);
    await draining;
    expect(kill).toHaveBeenCalledWith('SIGKILL');
    expect(group.alive).toBe(0);
  });

  it('replaces a worker that dies while the group serves', async () => {
    // A crash (status 1) is logged and replaced after the delay, with the group's config.
    vi.useFakeTimers();
    const { group, workers, logs } = makeGroup(2, { text: VALID }, { respawnDelayMs: 1000 });
    await group.start({ text: VALID, config: {} as never });
    workers[0]!.exit(1);
    expect(group.alive).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(workers).toHaveLength(3);
    expect(workers[2]!.sent).toEqual([{ type: 'start', text: VALID, workers: 2 }]);
    expect(group.alive).toBe(2);
    expect(logs.filter((l) => l.event === 'worker-exited')).toHaveLength(1);
  });

  it('does not replace a worker that stopped on the same signal as the primary', async () => {
    // A worker exits on Ctrl-C just before the primary drains: no replacement, no warning.
    vi.useFakeTimers();
    const { group, workers, logs } = makeGroup(2, { text: VALID }, { respawnDelayMs: 1000 });
    await group.start({ text: VALID, config: {} as never });
    workers[0]!.exit(0);
    const draining = group.drain(1000);
    await vi.advanceTimersByTimeAsync(2000);
    await draining;
    expect(workers).toHaveLength(2);
    expect(logs.filter((l) => l.event === 'worker-exited')).toHaveLength(0);
  });
});

describe('parseWorkerCount', () => {
  it.each([
    ['1', 1],
    ['8', 8],
    ['auto', 6],
  ])('reads %s as %d workers', (value, expected) => {
    // A whole number is taken as it is; auto is one worker per available CPU.
    expect(parseWorkerCount(value, () => 6)).toBe(expected);
  });

  it.each(['0', '-2', '1.5', 'two', '', '99999'])('refuses %j', (value) => {
    // Anything but a whole number from 1 to the maximum, or auto, is a usage error.
    expect(() => parseWorkerCount(value, () => 6)).toThrow('--workers');
  });
});

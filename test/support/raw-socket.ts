import { connect } from 'node:net';

export type Step = string | { waitMs: number } | { waitFor: RegExp };

export interface Conversation {
  text: string;
  ended: 'closed' | 'timeout';
  /** From the last write to the end of the conversation. */
  sinceLastWriteMs: number;
}

/** Plays `steps` on one raw connection, then collects everything until the gateway closes it. */
export function converse(port: number, steps: Step[], timeoutMs = 6000): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let lastWriteAt = Date.now();
    let ended: Conversation['ended'] | undefined;
    const text = () => Buffer.concat(chunks).toString('latin1');
    const finish = (how: Conversation['ended']) => {
      if (ended) return;
      ended = how;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: text(), ended: how, sinceLastWriteMs: Date.now() - lastWriteAt });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => finish('closed'));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' ? finish('closed') : reject(err),
    );
    const play = async () => {
      for (const step of steps) {
        if (ended) return;
        if (typeof step === 'string') {
          socket.write(step, 'latin1');
          lastWriteAt = Date.now();
        } else if ('waitMs' in step) await new Promise((r) => setTimeout(r, step.waitMs));
        else while (!ended && !step.waitFor.test(text())) await new Promise((r) => setTimeout(r, 10));
      }
    };
    play().catch(reject);
  });
}

export const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);

/** A Date field holding an IMF-fixdate (RFC 9110 §5.6.7), as a line of a raw answer's head. */
export const HTTP_DATE_FIELD =
  /\r\ndate: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/i;

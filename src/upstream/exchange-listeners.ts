// The listeners an exchange puts on its client's request and response are shared functions, not a
// closure per request: `this` is the object listened to, which is tagged with its exchange.

/** What the listeners tell the exchange tagged on the object they listen to. */
export interface ListenedExchange {
  clientClosed(): void;
  countBody(bytes: number): void;
  resumeUpstream(): void;
}

const kExchange = Symbol('floodgate.exchange');
type Tagged = { [kExchange]?: ListenedExchange };

/** Lets the listeners on `target` (the request or the response) reach `exchange`. */
export function tagExchange(target: object, exchange: ListenedExchange): void {
  (target as Tagged)[kExchange] = exchange;
}

// Closed before the answer was ended: the client left. Not `writableFinished`, which an HTTP/2
// response reports once its stream is reset, so a cancelled stream looked answered and kept its slot.
export function onClientClose(this: Tagged & { writableEnded: boolean }): void {
  const exchange = this[kExchange];
  if (exchange !== undefined && !this.writableEnded) exchange.clientClosed();
}

export function onClientAborted(this: Tagged): void {
  this[kExchange]?.clientClosed();
}

export function onRequestChunk(this: Tagged, chunk: Buffer): void {
  this[kExchange]?.countBody(chunk.length);
}

export function onClientDrain(this: Tagged): void {
  this[kExchange]?.resumeUpstream();
}

import type { ForwardedValues } from '../../src/http/hop-by-hop.js';

/** What the gateway sets on a request it forwards, as header tests expect to find it appended. */
export const FORWARDED: ForwardedValues = {
  forwardedFor: '10.0.0.9',
  proto: 'http',
  host: 'app.example',
  requestId: 'req-1',
  via: '1.1 floodgate',
  maxForwards: undefined,
};

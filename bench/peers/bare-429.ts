import { createServer, type Server } from 'node:http';

const BODY = Buffer.from('{"error":"too many requests"}');

/** The cheapest refusal a Node server can give: what a shed answer should cost at best. */
export function createBare429Server(): Server {
  return createServer((req, res) => {
    req.resume();
    res.writeHead(429, {
      'content-type': 'application/json',
      'retry-after': '1',
      'content-length': BODY.length,
    });
    res.end(BODY);
  });
}

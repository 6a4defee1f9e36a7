/**
 * HTTP/1.1 over a raw TCP socket (node:net), for requests no well-behaved client would
 * send: malformed escapes left as they are, bytes that are not UTF-8, oversized headers,
 * bodies cut short, clients that stall or hang up.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** The body as text; `json` when it parses. */
  text: string;
  json: unknown;
  /** Milliseconds from the first byte sent to the connection's end. */
  elapsedMs: number;
}

const target = (url: string) => {
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port) };
};

const decodeChunked = (body: Buffer): Buffer => {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = Number.parseInt(body.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
};

export const parseResponse = (raw: Buffer, elapsedMs: number): RawResponse => {
  const headerEnd = raw.indexOf('\r\n\r\n');
  if (headerEnd < 0)
    throw new Error(
      `no HTTP response (got ${raw.length} bytes: ${JSON.stringify(raw.toString('latin1').slice(0, 200))})`,
    );
  const [statusLine = '', ...lines] = raw.subarray(0, headerEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  const headers = Object.fromEntries(
    lines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
    }),
  );
  let body = raw.subarray(headerEnd + 4);
  if (headers['transfer-encoding'] === 'chunked') body = decodeChunked(body);
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status, headers, text, json, elapsedMs };
};

/** Opens a connection and collects everything the server sends until it closes it (or `timeoutMs`). */
export const openRaw = (url: string, timeoutMs = 15_000) => {
  const socket: Socket = connect(target(url));
  const received: Buffer[] = [];
  const started = Date.now();
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  const ended = new Promise<RawResponse>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms (got ${Buffer.concat(received).length} bytes)`));
    }, timeoutMs);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseResponse(Buffer.concat(received), Date.now() - started));
      } catch (error: unknown) {
        reject(error);
      }
    });
  });
  // A test that hangs up on purpose may never look at the answer.
  ended.catch(() => undefined);
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    write: async (data: string | Buffer) => {
      await opened;
      // A server that answers early (a 431, a 400) may close before all is written: its answer is what counts.
      await new Promise<void>((resolve) => socket.write(data, () => resolve()));
    },
    /** Sends `data` a few bytes at a time, `everyMs` apart. */
    trickle: async (data: string, bytesPerWrite: number, everyMs: number, until: () => boolean = () => false) => {
      await opened;
      for (let offset = 0; offset < data.length && !socket.destroyed && !until(); offset += bytesPerWrite) {
        socket.write(data.slice(offset, offset + bytesPerWrite));
        await sleep(everyMs);
      }
    },
    response: ended,
    received: () => Buffer.concat(received),
  };
};

/** One whole request (`Connection: close`), its answer read until the server closes the connection. */
export const rawRequest = async (
  url: string,
  request: { method: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<RawResponse> => {
  const body =
    request.body === undefined
      ? undefined
      : Buffer.isBuffer(request.body)
        ? request.body
        : Buffer.from(request.body, 'utf8');
  const headers = {
    host: 'localhost',
    connection: 'close',
    ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
    ...request.headers,
  };
  const head = `${request.method} ${request.path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\r\n')}\r\n\r\n`;
  const connection = openRaw(url);
  await connection.write(body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1'));
  return connection.response;
};

/** Bytes as they are (the request line and headers of `rawRequest` are latin1; this is for whole hand-written requests). */
export const rawBytes = async (url: string, bytes: string | Buffer): Promise<RawResponse> => {
  const connection = openRaw(url);
  await connection.write(bytes);
  return connection.response;
};

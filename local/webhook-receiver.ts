/**
 * A webhook receiver for the local stack and the tests: it records (and can print) every
 * request it gets, and answers what it is told to (200 unless set), so a campaign's
 * webhooks can be watched arriving and retries and failures provoked.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';

export interface ReceivedWebhook {
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface WebhookAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answer only after this long (a slow receiver: the sender's client may give up first). */
  delayMs?: number;
}

export interface WebhookReceiver {
  /** Base URL, e.g. http://127.0.0.1:4010 (paths are free). */
  url: string;
  port: number;
  received: ReceivedWebhook[];
  /** What to answer each request; 200 unless set. */
  answer: (request: ReceivedWebhook) => number | WebhookAnswer;
  stop(): Promise<void>;
}

export const startWebhookReceiver = async (
  options: { port?: number; print?: boolean } = {},
): Promise<WebhookReceiver> => {
  const receiver: WebhookReceiver = {
    url: '',
    port: 0,
    received: [],
    answer: () => 200,
    stop: async () => undefined,
  };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const webhook: ReceivedWebhook = {
        at: Date.now(),
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      receiver.received.push(webhook);
      const raw = receiver.answer(webhook);
      const answer = typeof raw === 'number' ? { status: raw } : raw;
      if (options.print)
        console.log(
          `[webhook receiver] ${webhook.method} ${webhook.path} → ${answer.status} (Idempotency-Key ${String(request.headers['idempotency-key'] ?? '-')})\n${webhook.body}`,
        );
      const respond = () => {
        // The client may have given up (timed out) and closed the connection: nothing to answer.
        if (!response.destroyed) response.writeHead(answer.status, answer.headers).end(answer.body ?? '');
      };
      if (answer.delayMs) setTimeout(respond, answer.delayMs).unref();
      else respond();
    });
  });
  // A port in use is an error event, not a throw: reject, so the caller can take another port.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  receiver.port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  receiver.url = `http://127.0.0.1:${receiver.port}`;
  receiver.stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return receiver;
};

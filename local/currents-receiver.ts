/**
 * A small HTTP server standing in for Heap's Currents endpoint on the local stack: it
 * records (and can print) the batches it receives, and answers what it is told to.
 */
import { createServer } from 'node:http';
import type { CurrentsEvent } from '../lib/currents/events.js';

export interface ReceivedBatch {
  at: string;
  headers: Record<string, string | string[] | undefined>;
  events: CurrentsEvent[];
  status: number;
}

export interface CurrentsReceiver {
  url: string;
  batches: ReceivedBatch[];
  /** What to answer; 200 unless set. */
  answer: (events: CurrentsEvent[]) => number;
  stop(): Promise<void>;
}

export const startCurrentsReceiver = async (
  options: { port?: number; print?: boolean } = {},
): Promise<CurrentsReceiver> => {
  const receiver: CurrentsReceiver = { url: '', batches: [], answer: () => 200, stop: async () => undefined };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let events: CurrentsEvent[] = [];
      try {
        events = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: CurrentsEvent[] }).events ?? [];
      } catch {
        response.writeHead(400).end();
        return;
      }
      const status = receiver.answer(events);
      receiver.batches.push({ at: new Date().toISOString(), headers: request.headers, events, status });
      if (options.print) {
        const types = [...new Set(events.map((event) => event.event_type))].join(', ');
        console.log(
          `[heap receiver] ${events.length} event(s) of ${types} → ${status}\n${JSON.stringify(events, null, 2)}`,
        );
      }
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const address = server.address();
  receiver.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : options.port}/currents`;
  receiver.stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return receiver;
};

import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';

/** "Continue export X of workspace W": the job record holds everything else. */
export const ExportMessage = z.object({ v: z.literal(1), workspaceId: z.string().min(1), exportId: z.string().min(1) });
export type ExportMessage = z.infer<typeof ExportMessage>;

export interface ExportQueue {
  send(message: ExportMessage): Promise<void>;
}

export class SqsExportQueue implements ExportQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}
  async send(message: ExportMessage): Promise<void> {
    await this.client.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(message) }));
  }
}

import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SegmentJobMessage } from '../segments/messages.js';
import type { ExportQueue } from '../segments/ports.js';

export class SqsExportQueue implements ExportQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}
  async send(message: SegmentJobMessage, options: { delaySeconds?: number } = {}): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(message),
        ...(options.delaySeconds ? { DelaySeconds: Math.min(900, options.delaySeconds) } : {}),
      }),
    );
  }
}

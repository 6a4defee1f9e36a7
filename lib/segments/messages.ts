/** What the segment worker's queue carries (lib/sqs/export-queue.ts sends it, functions/export parses it). */
import * as z from 'zod';

/** "Continue export X of workspace W": the job record holds everything else. */
export const ExportMessage = z.object({ v: z.literal(1), workspaceId: z.string().min(1), exportId: z.string().min(1) });
export type ExportMessage = z.infer<typeof ExportMessage>;

/** "Count segment S for size job J": the segment's `sizeJob` holds the progress. */
export const SegmentSizeMessage = z.object({
  v: z.literal(1),
  type: z.literal('segment-size'),
  workspaceId: z.string().min(1),
  segmentId: z.string().min(1),
  jobId: z.string().min(1),
});
export type SegmentSizeMessage = z.infer<typeof SegmentSizeMessage>;

/** The segment worker's queue carries both kinds of job (a size message has a `type`; an export message, from before sizes, has none). */
export const SegmentJobMessage = z.union([SegmentSizeMessage, ExportMessage]);
export type SegmentJobMessage = z.infer<typeof SegmentJobMessage>;

import { QUEUES, type Payload } from '../queue/queues.ts';
import type { JobContext, JobDeps } from './deps.ts';
import { deliverNotification, type DeliveryOutcome } from '../notifications/delivery.ts';

/** One attempt at one outbox row; throws (pg-boss retries with backoff) while another attempt may do better. */
export async function deliverNotificationJob(
  deps: JobDeps,
  { deliveryId }: Payload<'deliverNotification'>,
  job: JobContext,
): Promise<DeliveryOutcome> {
  if (!deps.notify) throw new Error('the worker was started without notification settings');
  return deliverNotification({ ...deps, notify: deps.notify }, deliveryId, {
    lastAttempt: job.retryCount >= QUEUES.deliverNotification.options.retryLimit,
  });
}

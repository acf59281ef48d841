import type { CronJob } from '../../server/cronRunner.ts';
import type { CoachSubscriptionService } from '../../services/coach/subscriptions.ts';

// Coach checkouts RevenueCat could not create: retried when due (every 6 hours, twice at most by
// default), the user notified of the outcome. Runs hourly so a retry is at most an hour late.
export function retryCoachCheckouts(coachSubscriptions: CoachSubscriptionService): CronJob {
  return {
    name: 'retry-coach-checkouts',
    schedule: '7 * * * *',
    description: 'Retry coach subscription checkouts whose creation failed (COACH_CHECKOUT_RETRY_HOURS apart, COACH_CHECKOUT_MAX_RETRIES times)',
    run: async () => coachSubscriptions.retryDueCheckouts(),
  };
}

import type { CronJob } from '../../server/cronRunner.ts';
import type { WalkSubscriptionService } from '../../services/walk/subscription.ts';

// Toss premium renewals: every subscription whose period ended is charged (a failed charge again on
// days 1, 3 and 7 after it was due, then expired); every one cancelled at its period end expires.
// Hourly, so a renewal is at most an hour late and a retry day is kept within the hour. Each charge
// is claimed under its own orderId, so a run on two nodes at once still charges once.
export function walkSubscriptionRenewals(subscription: WalkSubscriptionService): CronJob {
  return {
    name: 'walk-subscription-renewals',
    schedule: '7 * * * *',
    description: 'Charge due Toss premium subscriptions (retries on days 1, 3, 7, then expiry); expire the ones cancelled at their period end',
    run: async ({ signal }) => subscription.renewDue({ signal }),
  };
}

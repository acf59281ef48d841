import type { CronJob } from '../server/cronRunner.ts';
import type { PaymentService } from '../services/billing/payments.ts';

// Orders left pending past their TTL: checked with the provider, then cancelled if not paid.
export function expirePendingPayments(payments: PaymentService): CronJob {
  return {
    name: 'expire-pending-payments',
    schedule: '*/5 * * * *',
    description: 'Cancel pending orders older than PAYMENT_PENDING_TTL_MINUTES after checking them with their provider',
    run: async () => payments.expirePending(),
  };
}

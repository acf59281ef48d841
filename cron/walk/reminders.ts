import type { CronJob } from '../../server/cronRunner.ts';
import type { ReminderService } from '../../services/walk/reminders.ts';

// Walk reminders (services/walk/reminders.ts): every 10 minutes, the walkers whose usual walk hour
// starts within the next half hour and who have not walked today, each once a day.
export function walkReminders(reminders: ReminderService): CronJob {
  return {
    name: 'walk-reminders',
    schedule: '*/10 * * * *',
    description: 'Remind walkers who have not walked today, shortly before their usual walk hour (once a day each)',
    run: async ({ signal }) => reminders.sendDue({ signal }),
  };
}

import type { CronJob } from '../../server/cronRunner.ts';
import type { InvitationService } from '../../services/walk/invitations.ts';

// Walk invitations whose time has come: each with someone who accepted gets its one walk-together
// session (a guarded claim, so two nodes running this at once open one), the rest expire. Every
// minute: a walker waits at most that long for the session after the time they agreed on.
export function walkInvitationsStart(invitations: InvitationService): CronJob {
  return {
    name: 'walk-invitations-start',
    schedule: '* * * * *',
    description: 'Open the walk-together session of every walk invitation whose time has come and that someone accepted; expire the others',
    run: async () => invitations.startDue(),
  };
}

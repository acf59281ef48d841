import type { CronJob } from '../../server/cronRunner.ts';
import type { OutsideService } from '../../services/walk/outside.ts';

// Weather (KMA) and air (AirKorea) for the regions of walkers active in the last 14 days, hourly:
// KMA issues a forecast every three hours and AirKorea measures hourly, published around a quarter
// past, so minute 20 picks up the new hour. Requests read only what this job cached.
export function walkOutsideRefresh(outside: OutsideService): CronJob {
  return {
    name: 'walk-outside-refresh',
    schedule: '20 * * * *',
    description: 'Fetch the weather (KMA) and air quality (AirKorea) of every region with a walker active in the last 14 days into walk_outside_cache',
    run: async ({ signal }) => outside.refresh({ signal }),
  };
}

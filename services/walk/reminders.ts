// Walk reminders (seed 003 푸시 알림: 산책 리마인더): a nudge shortly before a walker's usual walk
// hour, on a day they have not walked yet, once a day, through the platform's notify() (so the
// user's switches, quiet hours and the type's push limit decide whether it reaches the device).
//
// - The usual hour is the commonest local hour (walks.local_hour, the app's zone) of the walker's
//   trusted walks over the last REMINDER_LOOKBACK_DAYS days, ties going to the earlier hour. A walker
//   with fewer than REMINDER_MIN_WALKS such walks gets no reminder: without a habit there is no
//   "usual" time, and a nudge at a guessed hour is the kind that gets notifications switched off.
// - It goes out from REMINDER_LEAD_MINUTES before that hour until that many minutes before the next
//   (hour 19: 18:30 to 19:29). The job runs every 10 minutes, so a missed run is caught by the next.
// - "Walked today" is any walk started today (trusted or flagged): they were out, whatever the GPS said.
// - Once a day: the due walkers are found and their day claimed in one statement (walk_reminders'
//   primary key), so two cron nodes running the job at the same moment split the walkers between
//   them; the notification's dedupe key backs that up.
// - A walker who switched reminders (or the walk category) off gets nothing, not even an inbox row:
//   a reminder that cannot nudge is only clutter.
import type { Logger } from 'pino';
import { zoneCalendar, type Clock, type TimeFormatter } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';

export const REMINDER_LOOKBACK_DAYS = 28;
export const REMINDER_MIN_WALKS = 3;
export const REMINDER_LEAD_MINUTES = 30;
// Notifications in flight at once: each is a few queries and maybe an FCM call.
const NOTIFY_CONCURRENCY = 16;

export type ReminderNotifier = (userId: string, input: { type: 'walk.reminder'; title: string; body: string; data: Record<string, unknown>; dedupeKey: string }) => Promise<unknown>;

export type ReminderRun = { localDate: string; hour: number | null; reminded: number; switchedOff: number; failed: number };

// Parameters: hour, today, lookback days, today, today, lookback days, today, min walks, today, now,
// hour, day start, day end. Returns the walkers claimed by this run.
const DUE_REMINDERS_SQL = `
  with candidates as (
    select distinct w.user_id from walks w
     where w.trusted and w.local_hour = ? and w.local_date >= ?::date - ?::int and w.local_date < ?::date),
  usual as (
    select w.user_id, mode() within group (order by w.local_hour) as hour
      from walks w join candidates c using (user_id)
     where w.trusted and w.local_date >= ?::date - ?::int and w.local_date < ?::date
     group by w.user_id
    having count(*) >= ?)
  insert into walk_reminders (user_id, local_date, usual_hour, sent_at)
  select u.user_id, ?::date, u.hour, ?::timestamptz
    from usual u join users a on a.id = u.user_id and a.disabled_at is null
   where u.hour = ?
     and not exists (select 1 from walks t where t.user_id = u.user_id and t.started_at >= ?::timestamptz and t.started_at < ?::timestamptz)
  on conflict (user_id, local_date) do nothing
  returning user_id, usual_hour`;

export function createReminderService(deps: {
  em: Em; clock: Clock; time: TimeFormatter; logger: Logger; notify: ReminderNotifier;
  // Of these walkers, those who switched walk reminders off (the platform's notification settings).
  switchedOff: (userIds: string[]) => Promise<Set<string>>;
}) {
  const { em, clock, logger } = deps;
  const calendar = zoneCalendar(deps.time.zone);

  // The walkers due now, each reminded once for today. Returns how many were reminded.
  async function sendDue(opts: { signal?: AbortSignal } = {}): Promise<ReminderRun> {
    const now = clock.now();
    const localDate = calendar.localDate(now);
    // The one usual hour whose window holds this minute (none in the last minutes before midnight:
    // hour 0's window starts at midnight, not the evening before).
    const hour = Math.floor((calendar.minutesOfDay(now) + REMINDER_LEAD_MINUTES) / 60);
    if (hour > 23) return { localDate, hour: null, reminded: 0, switchedOff: 0, failed: 0 };
    const day = calendar.day(now);
    const claimed = await inTransaction(em.fork(), (tx) => tx.execute<{ user_id: string; usual_hour: number }[]>(DUE_REMINDERS_SQL, [
      hour, localDate, REMINDER_LOOKBACK_DAYS, localDate,
      localDate, REMINDER_LOOKBACK_DAYS, localDate, REMINDER_MIN_WALKS,
      localDate, now, hour, day.start, day.end,
    ]));
    const off = claimed.length > 0 ? await deps.switchedOff(claimed.map((r) => r.user_id)) : new Set<string>();
    const due = claimed.filter((r) => !off.has(r.user_id));
    let reminded = 0;
    let failed = 0;
    // After the claim commits; a walker whose notify fails is not retried today (at most once beats twice).
    for (let i = 0; i < due.length && !opts.signal?.aborted; i += NOTIFY_CONCURRENCY) {
      await Promise.all(due.slice(i, i + NOTIFY_CONCURRENCY).map(async (r) => {
        try {
          await deps.notify(r.user_id, {
            type: 'walk.reminder',
            title: '산책 갈 시간이에요',
            body: `평소 ${r.usual_hour}시쯤 산책했어요. 오늘은 아직 산책 전이에요.`,
            data: { localDate, usualHour: r.usual_hour },
            dedupeKey: `walk.reminder:${localDate}`,
          });
          reminded++;
        } catch (err) {
          failed++;
          logger.warn({ err, userId: r.user_id }, 'walk reminder not sent');
        }
      }));
    }
    if (claimed.length > 0) logger.info({ localDate, hour, reminded, switchedOff: off.size, failed }, 'walk reminders sent');
    return { localDate, hour, reminded, switchedOff: off.size, failed };
  }

  return { sendDue };
}

export type ReminderService = ReturnType<typeof createReminderService>;

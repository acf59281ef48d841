// Quiet hours are a wall-clock window in the user's own zone, and may wrap midnight (22:00-07:00).

const formatters = new Map<string, Intl.DateTimeFormat>();

export function minutesOfDay(now: Date, timeZone: string): number {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, format);
  }
  const parts = format.formatToParts(now);
  const hour = Number(parts.find((p) => p.type === 'hour')!.value);
  const minute = Number(parts.find((p) => p.type === 'minute')!.value);
  return hour * 60 + minute;
}

// start and end are "HH:MM" (a Postgres time column may add ":SS"); start is inside, end is not.
export function isQuietTime(window: { start: string; end: string } | null, timeZone: string, now: Date): boolean {
  if (!window) return false;
  const start = toMinutes(window.start);
  const end = toMinutes(window.end);
  const current = minutesOfDay(now, timeZone);
  return start < end ? current >= start && current < end : current >= start || current < end;
}

function toMinutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

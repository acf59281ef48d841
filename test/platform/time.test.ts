import { expect } from 'chai';
import { createTestClock, createTimeFormatter, systemClock, zoneCalendar, type Interval } from '../../services/time.ts';

describe('platform: time rendering', () => {
  it('renders instants with the zone offset, Asia/Seoul by default', () => {
    expect(createTimeFormatter('Asia/Seoul').format(new Date('2024-01-01T03:00:00Z'))).to.equal('2024-01-01T12:00:00+09:00');
    expect(createTimeFormatter('UTC').format(new Date('2024-01-01T03:00:00.999Z'))).to.equal('2024-01-01T03:00:00+00:00');
  });

  it('follows daylight-saving transitions and half-hour zones', () => {
    const ny = createTimeFormatter('America/New_York');
    expect(ny.format(new Date('2024-03-10T06:59:59Z'))).to.equal('2024-03-10T01:59:59-05:00');
    expect(ny.format(new Date('2024-03-10T07:00:00Z'))).to.equal('2024-03-10T03:00:00-04:00');
    expect(createTimeFormatter('Asia/Kolkata').format(new Date('2024-06-01T00:00:00Z'))).to.equal('2024-06-01T05:30:00+05:30');
    const lordHowe = createTimeFormatter('Australia/Lord_Howe');
    expect(lordHowe.format(new Date('2024-04-06T14:59:00Z'))).to.equal('2024-04-07T01:59:00+11:00');
    expect(lordHowe.format(new Date('2024-04-06T15:00:00Z'))).to.equal('2024-04-07T01:30:00+10:30');
  });

  it('renders a round trip: the string parses back to the same second', () => {
    const seoul = createTimeFormatter('Asia/Seoul');
    const d = new Date('2026-11-22T00:08:44.123Z');
    expect(Date.parse(seoul.format(d))).to.equal(Math.floor(d.getTime() / 1000) * 1000);
  });
});

describe('platform: the zone calendar', () => {
  // An interval as its two ends read in the zone.
  const inZone = (zone: string, i: Interval) => {
    const f = createTimeFormatter(zone);
    return [f.format(i.start), f.format(i.end)];
  };

  it('finds the KST day, week from Monday 00:00 and month holding an instant', () => {
    const kst = zoneCalendar('Asia/Seoul');
    // Monday 08:59 KST is still Sunday in UTC: the week is Korea's.
    const mondayMorning = new Date('2026-11-22T23:59:00Z');
    expect(inZone('Asia/Seoul', kst.week(mondayMorning))).to.deep.equal(['2026-11-23T00:00:00+09:00', '2026-11-30T00:00:00+09:00']);
    expect(inZone('Asia/Seoul', kst.day(mondayMorning))).to.deep.equal(['2026-11-23T00:00:00+09:00', '2026-11-24T00:00:00+09:00']);
    expect(kst.week(new Date('2026-11-22T14:59:59.999Z')).start.toISOString()).to.equal('2026-11-15T15:00:00.000Z');
    // A Sunday belongs to the week that began six days before; a week may span a year's end.
    expect(inZone('Asia/Seoul', kst.week(new Date('2027-01-03T12:00:00+09:00')))).to.deep.equal(['2026-12-28T00:00:00+09:00', '2027-01-04T00:00:00+09:00']);
    expect(inZone('Asia/Seoul', kst.month(new Date('2026-12-31T15:00:00Z')))).to.deep.equal(['2027-01-01T00:00:00+09:00', '2027-02-01T00:00:00+09:00']);
    expect(inZone('Asia/Seoul', kst.month(new Date('2028-02-29T23:59:59+09:00')))).to.deep.equal(['2028-02-01T00:00:00+09:00', '2028-03-01T00:00:00+09:00']);
    expect(kst.period('week', mondayMorning)).to.deep.equal(kst.week(mondayMorning));
    expect(kst.period('month', mondayMorning)).to.deep.equal(kst.month(mondayMorning));
    expect(kst.period('day', mondayMorning)).to.deep.equal(kst.day(mondayMorning));
  });

  it('follows daylight saving: America/New_York days of 23 and 25 hours, weeks and months across a change', () => {
    const ny = zoneCalendar('America/New_York');
    const hours = (i: Interval) => (i.end.getTime() - i.start.getTime()) / 3_600_000;
    // 2024-03-10: 02:00 EST jumps to 03:00 EDT.
    const springDay = ny.day(new Date('2024-03-10T12:00:00-04:00'));
    expect(inZone('America/New_York', springDay)).to.deep.equal(['2024-03-10T00:00:00-05:00', '2024-03-11T00:00:00-04:00']);
    expect(hours(springDay)).to.equal(23);
    // 2024-11-03: 02:00 EDT falls back to 01:00 EST; the second 01:30 is still that day.
    const fallDay = ny.day(new Date('2024-11-03T06:30:00Z'));
    expect(inZone('America/New_York', fallDay)).to.deep.equal(['2024-11-03T00:00:00-04:00', '2024-11-04T00:00:00-05:00']);
    expect(hours(fallDay)).to.equal(25);
    // The week holding the change runs Monday to Monday, 167 hours long.
    const springWeek = ny.week(new Date('2024-03-10T23:00:00-04:00'));
    expect(inZone('America/New_York', springWeek)).to.deep.equal(['2024-03-04T00:00:00-05:00', '2024-03-11T00:00:00-04:00']);
    expect(hours(springWeek)).to.equal(167);
    const november = ny.month(new Date('2024-11-30T23:59:59-05:00'));
    expect(inZone('America/New_York', november)).to.deep.equal(['2024-11-01T00:00:00-04:00', '2024-12-01T00:00:00-05:00']);
    // 05:00 UTC on Dec 1st is still November 30th in New York.
    expect(ny.month(new Date('2024-12-01T04:59:59Z'))).to.deep.equal(november);
  });

  it('starts a day whose midnight a spring-forward skips at the transition (America/Santiago)', () => {
    // 2024-09-08: 00:00 -04:00 jumps to 01:00 -03:00.
    const day = zoneCalendar('America/Santiago').day(new Date('2024-09-08T12:00:00-03:00'));
    expect(inZone('America/Santiago', day)).to.deep.equal(['2024-09-08T01:00:00-03:00', '2024-09-09T00:00:00-03:00']);
    expect(zoneCalendar('America/Santiago').day(new Date('2024-09-08T03:59:59Z')).end.toISOString()).to.equal('2024-09-08T04:00:00.000Z');
  });

  it('tells the local date and the minutes of the day in any zone', () => {
    const at = new Date('2026-11-22T15:30:00Z');
    expect(zoneCalendar('Asia/Seoul').localDate(at)).to.equal('2026-11-23');
    expect(zoneCalendar('UTC').localDate(at)).to.equal('2026-11-22');
    expect(zoneCalendar('America/New_York').localDate(new Date('2026-11-23T04:59:00Z'))).to.equal('2026-11-22');
    expect(zoneCalendar('Asia/Kolkata').localDate(new Date('2026-11-22T18:29:59Z'))).to.equal('2026-11-22');
    expect(zoneCalendar('Asia/Kolkata').localDate(new Date('2026-11-22T18:30:00Z'))).to.equal('2026-11-23');
    expect(zoneCalendar('Asia/Seoul').minutesOfDay(at)).to.equal(30);
    expect(zoneCalendar('America/New_York').minutesOfDay(at)).to.equal(10 * 60 + 30);
    expect(zoneCalendar('Asia/Kolkata').minutesOfDay(new Date('2024-06-01T00:00:00Z'))).to.equal(5 * 60 + 30);
    expect(() => zoneCalendar('Mars/Olympus_Mons')).to.throw(RangeError);
  });

  it('tells quiet hours on the zone\'s wall clock, including windows that wrap midnight', () => {
    const night = { start: '22:00', end: '07:00' };
    // 22:00, 23:59, 00:00 and 06:59 KST are quiet; 07:00 (the end) and 21:59 are not.
    for (const [utc, quiet] of [['13:00', true], ['14:59', true], ['15:00', true], ['21:59', true], ['22:00', false], ['12:59', false]] as const) {
      expect(zoneCalendar('Asia/Seoul').isQuietTime(night, new Date(`2026-11-22T${utc}:00Z`)), utc).to.equal(quiet);
    }
    // The same window in New York: 03:30 UTC is 22:30 EST.
    expect(zoneCalendar('America/New_York').isQuietTime(night, new Date('2026-11-23T03:30:00Z'))).to.equal(true);
    expect(zoneCalendar('America/New_York').isQuietTime(night, new Date('2026-11-22T14:30:00Z'))).to.equal(false);
    // A window within one day, with seconds as a Postgres time column renders them.
    expect(zoneCalendar('UTC').isQuietTime({ start: '13:00:00', end: '15:00:00' }, new Date('2026-11-22T14:59:59Z'))).to.equal(true);
    expect(zoneCalendar('UTC').isQuietTime({ start: '13:00:00', end: '15:00:00' }, new Date('2026-11-22T15:00:00Z'))).to.equal(false);
    expect(zoneCalendar('UTC').isQuietTime(null, new Date())).to.equal(false);
  });
});

describe('platform: clocks', () => {
  it('a test clock stands still until it is set or advanced', () => {
    const clock = createTestClock('2026-11-22T23:59:59+09:00');
    expect(clock.now().toISOString()).to.equal('2026-11-22T14:59:59.000Z');
    expect(clock.now()).to.not.equal(clock.now()); // a fresh Date each time: callers cannot move it by mutation
    expect(clock.advance(1000).toISOString()).to.equal('2026-11-22T15:00:00.000Z');
    expect(clock.now().toISOString()).to.equal('2026-11-22T15:00:00.000Z');
    clock.set(new Date('2027-01-01T00:00:00Z'));
    expect(clock.now().toISOString()).to.equal('2027-01-01T00:00:00.000Z');
    expect(() => clock.set('not a date')).to.throw(RangeError);
    expect(Math.abs(systemClock.now().getTime() - Date.now())).to.be.below(1000);
  });
});

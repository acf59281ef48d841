import { expect } from 'chai';
import { createTimeFormatter } from '../../services/time.ts';

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

/**
 * genesis-cp power-schedule set|get|clear|list with the built CLI against a database of its own:
 * the operator's window notation, what the schedule wants now, JSON for scripts, and the exit
 * codes (2 for a bad schedule, 3 for an unknown workspace or schedule).
 */
import { seedDroplet } from '../helpers/db';
import { runCli } from '../helpers/processes';
import { useTestDatabase } from '../helpers/stores';

jest.setTimeout(60_000);

describe('genesis-cp power-schedule', () => {
  const db = useTestDatabase();
  const cli = async (args: string[]) => {
    const run = runCli(['power-schedule', ...args], { DATABASE_URL: db.url });
    const code = await run.exited;
    return { code, out: run.output() };
  };

  beforeAll(async () => {
    await seedDroplet(db.pool, { id: 4_100, workspaceId: 'ws-cli-a', state: 'HIBERNATED' });
    await seedDroplet(db.pool, { id: 4_101, workspaceId: 'ws-cli-b', state: 'ACTIVE_HEALTHY' });
  });

  it('sets, shows, lists and clears schedules', async () => {
    const set = await cli([
      'set',
      'ws-cli-a',
      '--tz',
      'Europe/Berlin',
      '--window',
      'mon-fri@08:30-18:00',
      '--window',
      'sat@22:00-02:00',
      '--lead',
      '20',
      '--json',
    ]);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.out)).toMatchObject({
      workspaceId: 'ws-cli-a',
      timeZone: 'Europe/Berlin',
      windows: [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:30', end: '18:00' },
        { days: ['sat'], start: '22:00', end: '02:00' },
      ],
      wakeLeadMinutes: 20,
      idleMinutes: 30,
      now: expect.stringMatching(/^(awake until|asleep)/),
    });
    expect((await cli(['set', 'ws-cli-b', '--tz', 'UTC', '--idle', 'never'])).code).toBe(0);

    const get = await cli(['get', 'ws-cli-a']);
    expect(get.code).toBe(0);
    expect(get.out).toMatch(/ws-cli-a\s+Europe\/Berlin\s+mon-fri@08:30-18:00 sat@22:00-02:00\s+20\s+30/);
    const list = await cli(['list', '--json']);
    expect(
      (JSON.parse(list.out) as { workspaceId: string; idleMinutes: number | null }[]).map((s) => [
        s.workspaceId,
        s.idleMinutes,
      ]),
    ).toEqual([
      ['ws-cli-a', 30],
      ['ws-cli-b', null],
    ]);

    expect((await cli(['clear', 'ws-cli-a'])).code).toBe(0);
    expect((await cli(['get', 'ws-cli-a'])).code).toBe(3);
    expect((await cli(['clear', 'ws-cli-a'])).code).toBe(3);
  });

  it('refuses a bad schedule (exit 2) and an unknown workspace (exit 3), naming the problem', async () => {
    const badDay = await cli(['set', 'ws-cli-a', '--tz', 'UTC', '--window', 'monday@08:00-09:00']);
    expect(badDay).toMatchObject({ code: 2, out: expect.stringMatching(/"monday" is not a day/) });
    const badZone = await cli(['set', 'ws-cli-a', '--tz', 'Mars/Olympus']);
    expect(badZone).toMatchObject({
      code: 2,
      out: expect.stringMatching(/timeZone must be an IANA time zone/),
    });
    const unknown = await cli(['set', 'ws-nobody', '--tz', 'UTC']);
    expect(unknown).toMatchObject({
      code: 3,
      out: expect.stringMatching(/workspace ws-nobody is not known/),
    });
  });
});

/**
 * Transport micro-benchmarks on loopback sshd (not a test; prints numbers):
 *   npx tsx bench/ssh-transport.ts [hosts=20] [--many=200]
 * - connect: 1 host, N hosts in parallel
 * - exec latency with and without TCP_NODELAY
 * - 10 checks: execBatch (one round trip) vs 10 sequential execs, 1 and N hosts
 * With --many=M it also starts M sshds and connects to all of them at once.
 */
import { openSession, type Command, type Session } from '../src/ssh/index.js';
import { startSshd, type SshdHarness } from '../test/support/sshd.js';

const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 20);
const many = Number(args.find((a) => a.startsWith('--many='))?.slice(7) ?? 0);

const CHECKS: Command[] = [
  { argv: ['test', '-f', '/etc/hostname'] },
  { argv: ['stat', '-c', '%a %U %G', '/etc/passwd'] },
  { argv: ['dpkg-query', '-W', '-f', '${Status}', 'bash'] },
  { argv: ['cat', '/etc/hostname'] },
  { argv: ['id', '-u'] },
  { argv: ['getent', 'passwd', 'root'] },
  { argv: ['grep', '-c', 'root', '/etc/passwd'] },
  { argv: ['uname', '-r'] },
  { argv: ['readlink', '-f', '/bin/sh'] },
  { argv: ['sha256sum', '/etc/hostname'] },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;
async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
}

function open(h: SshdHarness, i: number, noDelay = true): Promise<Session> {
  return openSession(h.endpoint(i), { hostKeys: { knownHostsPath: h.knownHostsPath, mode: 'strict' }, noDelay });
}

async function main(): Promise<void> {
  const [startMs, h] = await time(() => startSshd({ count: N }));
  console.log(`harness: ${N} sshds started in ${ms(startMs)}`);
  try {
    const c1: number[] = [];
    for (let r = 0; r < 5; r++) {
      const [t, s] = await time(() => open(h, 0));
      c1.push(t);
      await s.close();
    }
    console.log(`connect 1 host: median ${ms(median(c1))} (5 runs)`);
    const cN: number[] = [];
    let sessions: Session[] = [];
    for (let r = 0; r < 3; r++) {
      await Promise.all(sessions.map((s) => s.close()));
      const [t, ss] = await time(() => Promise.all(h.hosts.map((_, i) => open(h, i))));
      cN.push(t);
      sessions = ss;
    }
    console.log(`connect ${N} hosts in parallel: median ${ms(median(cN))} (3 runs)`);

    for (const noDelay of [true, false]) {
      const s = await open(h, 0, noDelay);
      await s.exec({ argv: ['true'] });
      const lat: number[] = [];
      for (let i = 0; i < 30; i++) lat.push((await time(() => s.exec({ argv: ['true'] })))[0]);
      console.log(`exec latency, setNoDelay(${noDelay}): median ${ms(median(lat))} (30 execs of true)`);
      await s.close();
    }

    const s0 = sessions[0]!;
    const seq: number[] = [];
    const bat: number[] = [];
    for (let r = 0; r < 10; r++) {
      seq.push(
        (
          await time(async () => {
            for (const c of CHECKS) await s0.exec(c);
          })
        )[0],
      );
      bat.push((await time(() => s0.execBatch(CHECKS)))[0]);
    }
    console.log(`1 host, 10 checks: 10 execs ${ms(median(seq))}, execBatch ${ms(median(bat))} (median of 10)`);
    const seqN: number[] = [];
    const batN: number[] = [];
    for (let r = 0; r < 5; r++) {
      seqN.push(
        (
          await time(() =>
            Promise.all(
              sessions.map(async (s) => {
                for (const c of CHECKS) await s.exec(c);
              }),
            ),
          )
        )[0],
      );
      batN.push((await time(() => Promise.all(sessions.map((s) => s.execBatch(CHECKS)))))[0]);
    }
    console.log(`${N} hosts in parallel, 10 checks each: 10 execs ${ms(median(seqN))}, execBatch ${ms(median(batN))} (median of 5)`);
    await Promise.all(sessions.map((s) => s.close()));
  } finally {
    await h.stop();
  }

  if (many > 0) {
    const [t, hm] = await time(() => startSshd({ count: many }));
    console.log(`harness: ${many} sshds started in ${ms(t)}`);
    try {
      const [tc, ss] = await time(() => Promise.all(hm.hosts.map((_, i) => open(hm, i))));
      const [tb] = await time(() => Promise.all(ss.map((s) => s.execBatch(CHECKS))));
      console.log(`${many} hosts: connect all in parallel ${ms(tc)}, execBatch of 10 checks on all ${ms(tb)}`);
      await Promise.all(ss.map((s) => s.close()));
    } finally {
      await hm.stop();
    }
  }
}

await main();

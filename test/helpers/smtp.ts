import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail { from: string; to: string[]; raw: string; user: string | undefined }

/**
 * A real SMTP server on 127.0.0.1 (smtp-server), in the test process: accepts mail after
 * AUTH with `user`/`password` over plain TCP (test only) and keeps what arrives.
 * `failNext` makes the next N messages fail with a transient 451, to exercise retries.
 */
export interface TestSmtp {
  port: number;
  mails: ReceivedMail[];
  failNext: number;
  /** Resolves when at least `n` messages have arrived. */
  waitForMails(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export async function startSmtp(user: string, password: string): Promise<TestSmtp> {
  const mails: ReceivedMail[] = [];
  /** Pending waits; each returns true once satisfied (and is then dropped). */
  let waiters: Array<() => boolean> = [];
  const handle: TestSmtp = {
    port: 0, mails, failNext: 0,
    waitForMails: (n, timeoutMs = 20_000) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} mails (have ${mails.length})`)), timeoutMs);
      const check = () => {
        if (mails.length < n) return false;
        clearTimeout(timer);
        resolve(mails);
        return true;
      };
      if (!check()) waiters.push(check);
    }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === user && auth.password === password) cb(null, { user: auth.username });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (d: Buffer) => { raw += d.toString('utf8'); });
      stream.on('end', () => {
        if (handle.failNext > 0) {
          handle.failNext--;
          const err = new Error('try again later') as Error & { responseCode: number };
          err.responseCode = 451;
          return cb(err);
        }
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address), raw, user: typeof session.user === 'string' ? session.user : undefined,
        });
        cb();
        waiters = waiters.filter((w) => !w());
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  handle.port = (server.server.address() as AddressInfo).port;
  return handle;
}

// The example WebSocket server across a drain: two batonds on one Redis, one example server
// beside each (each batond's membership.address is its server's URL), a WebSocket client
// that opens a session on the first and bumps its counter; NODE DRAIN of the first daemon
// must tell the client to reconnect to the second with a token, and there the session
// resumes with its counter intact and goes on counting.
import { spawn } from 'child_process';
import * as path from 'path';
import { WebSocket } from 'ws';
import { Baton, HandoffOut } from '../src';
import { Checks, Fleet, until, within } from './fleet';

type Message = { type: string; [field: string]: unknown };

/** A WebSocket client that queues what it receives. */
class Browser {
  private readonly inbox: Message[] = [];
  private waiter: (() => void) | null = null;
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.inbox.push(JSON.parse(data.toString()) as Message);
      this.waiter?.();
    });
  }

  static async connect(url: string): Promise<Browser> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new Browser(socket);
  }

  send(message: object): void {
    this.socket.send(JSON.stringify(message));
  }

  /** The next message of `type` (others before it are dropped), or null after `ms`. */
  async next(type: string, ms = 10_000): Promise<Message | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const at = this.inbox.findIndex((m) => m.type === type || m.type === 'error');
      if (at >= 0) return this.inbox.splice(0, at + 1)[at];
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await within(new Promise<void>((resolve) => { this.waiter = resolve; }), left, undefined);
    }
  }
}

export async function handoffTests(fleet: Fleet, t: Checks, distDir: string,
                                   sockets: [string, string], ports: [number, number]): Promise<void> {
  const script = path.join(distDir, 'examples', 'ws-handoff-server.js');
  for (const i of [0, 1]) {
    const server = fleet.adopt(spawn(process.execPath, [script, '--port', String(ports[i]), '--socket', sockets[i]],
                                     { stdio: ['ignore', 'pipe', 'inherit'] }));
    const listening = await within(new Promise<boolean>((resolve) => {
      server.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('listening')) resolve(true); });
    }), 20_000, false);
    t.check(`example server ${i + 1} listens`, listening);
    if (!listening) return;
  }
  // The library's own follower on the first daemon hears the same handoff (the example's
  // one-line shape).
  const admin = new Baton({ socket: sockets[0] });
  const follower = await admin.sessions.follow();
  const handoffs: HandoffOut[] = [];
  follower.on('handoff-out', (h) => handoffs.push(h));

  const browser = await Browser.connect(`ws://127.0.0.1:${ports[0]}`);
  browser.send({ type: 'hello' });
  const welcome = await browser.next('welcome');
  t.check('ws: the first server opens a session', typeof welcome?.id === 'string', welcome);
  for (let i = 0; i < 3; i++) browser.send({ type: 'bump' });
  let count: Message | null = null;
  for (let i = 0; i < 3; i++) count = await browser.next('count');
  t.check('ws: the counter is kept in the session state', count?.counter === 3, count);

  const drained = await admin.command('NODE', 'DRAIN');
  t.check('NODE DRAIN answers', Array.isArray(drained), drained);
  const reconnect = await browser.next('reconnect', 20_000);
  t.check('ws: on handoff-out the client is told to reconnect to the second server with a token',
    reconnect?.address === `ws://127.0.0.1:${ports[1]}` && String(reconnect?.token).startsWith('v1.'), reconnect);
  t.check('SessionFollower: handoff-out with id, target node, address and token',
    await until(() => handoffs.some((h) => h.id === welcome?.id && h.targetNode === 'node-b' &&
                                           h.targetAddress === `ws://127.0.0.1:${ports[1]}` &&
                                           h.token === reconnect?.token), 10_000), handoffs);
  browser.socket.close();
  if (!reconnect) return;

  const moved = await Browser.connect(String(reconnect.address));
  moved.send({ type: 'resume', token: reconnect.token });
  const resumed = await moved.next('welcome');
  t.check('ws: the second server resumes the session with its state intact',
    resumed?.id === welcome?.id && resumed?.counter === 3, resumed);
  moved.send({ type: 'bump' });
  const after = await moved.next('count');
  t.check('ws: and it goes on counting there (the new owner writes)', after?.counter === 4, after);
  const stored = await new Baton({ socket: sockets[1] }).sessions.state(String(welcome?.id));
  t.check('the session state in baton is the counter', stored.state === '4', stored);
  moved.socket.close();
  follower.close();
  admin.close();
}

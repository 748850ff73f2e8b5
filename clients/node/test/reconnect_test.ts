// A call in flight when batond dies is not sent again to the daemon that replaces it: ioredis'
// autoResendUnfulfilledCommands is off on every connection, and such a call rejects with
// ConnectionClosed. A third batond is stopped (SIGSTOP, so that an EVENTS PUBLISH without
// DEDUP is written and stays unanswered), killed (SIGKILL) and started again on the same
// socket; the shared connection reconnects, and the stream shows the publish never ran.
import { Baton, ConnectionClosed } from '../src';
import { Checks, errorOf, Fleet, sleep, until, within } from './fleet';

export async function reconnectTests(fleet: Fleet, t: Checks, config: string): Promise<void> {
  const socket = await fleet.startBatond('node-c', config);
  const baton = new Baton({ socket });
  try {
    t.check('connections: autoResendUnfulfilledCommands off, the offline queue on',
      baton.redis.options.autoResendUnfulfilledCommands === false && baton.redis.options.enableOfflineQueue === true);
    await baton.command('PING');
    const topic = 'sent-at-most-once';
    fleet.signalBatond('node-c', 'SIGSTOP');
    const inFlight = errorOf(baton.events.publish(topic, 'one event'));
    await sleep(200); // written to the socket, unanswered
    await fleet.stopBatond('node-c', 'SIGKILL');
    await fleet.startBatond('node-c', config);
    t.check('the shared connection reconnects to the restarted batond',
      await until(async () => (await baton.command('PING')) === 'PONG', 20_000));
    const error = await within(inFlight, 5000, 'still waiting');
    t.check('a call in flight when batond was killed rejects with ConnectionClosed', error instanceof ConnectionClosed,
      String(error));
    const events = await baton.events.read(topic, '0');
    t.check('... and was not sent again to the restarted batond (no event in the stream)', events.length === 0,
      events.map((e) => e.payload));
  } finally {
    baton.close();
    await fleet.stopBatond('node-c');
  }
}

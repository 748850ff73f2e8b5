// An example WebSocket server that keeps each connection's state in a baton session, so that
// a deploy moves its browsers to another server without losing it. Each browser bumps a
// counter kept in the session's state; when this server's batond drains (NODE DRAIN, or
// SIGTERM while it owns sessions), the SessionFollower hears handoff-out and the browser is
// told, in one line, to reconnect to the target node's address with the token it carries.
// That address is the target batond's `membership.address`: set it to the URL of the server
// beside that batond.
//
//   node dist/examples/ws-handoff-server.js --port 8080 [--socket /run/baton/baton.sock]
//
// Protocol, JSON text frames. Browser → server: {"type":"hello"} opens a session;
// {"type":"resume","token":T} resumes one here; {"type":"bump"} adds 1 to the counter.
// Server → browser: {"type":"welcome","id","token","counter"}, {"type":"count","counter"},
// {"type":"reconnect","address","token"}, {"type":"error","message"}.
import { WebSocket, WebSocketServer } from 'ws';
import { Baton } from '../src';

function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? undefined : process.argv[at + 1];
}

async function main(): Promise<void> {
  const baton = new Baton({ socket: option('socket') });
  const byId = new Map<string, WebSocket>();

  const follower = await baton.sessions.follow();
  follower.on('handoff-out', ({ id, targetAddress, token }) => {
    byId.get(id)?.send(JSON.stringify({ type: 'reconnect', address: targetAddress, token }));
  });

  const server = new WebSocketServer({ host: '127.0.0.1', port: Number(option('port') ?? 8080) });
  server.on('connection', (socket) => {
    let id: string | null = null;
    let counter = 0;
    const send = (message: object) => socket.send(JSON.stringify(message));
    // One message at a time per connection: a bump reads the counter another bump writes.
    let queue = Promise.resolve();
    socket.on('message', (data) => {
      queue = queue.then(() => handle(JSON.parse(data.toString()) as { type: string; token?: string }))
        .catch((error: unknown) => send({ type: 'error', message: String(error) }));
    });
    socket.on('close', () => {
      if (id !== null && byId.get(id) === socket) byId.delete(id);
    });

    async function handle(message: { type: string; token?: string }): Promise<void> {
      if (message.type === 'hello') {
        const opened = await baton.sessions.open('ws-example');
        id = opened.id;
        byId.set(id, socket);
        send({ type: 'welcome', id, token: opened.token, counter });
      } else if (message.type === 'resume' && message.token) {
        const resumed = await baton.sessions.resume(message.token);
        id = resumed.id;
        counter = Number(resumed.state ?? 0);
        byId.set(id, socket);
        send({ type: 'welcome', id, token: resumed.token, counter });
      } else if (message.type === 'bump' && id !== null) {
        await baton.sessions.setState(id, String(counter + 1));
        counter += 1;
        send({ type: 'count', counter });
      } else {
        send({ type: 'error', message: `unexpected ${message.type}` });
      }
    }
  });
  server.on('listening', () => console.log(`listening on ${JSON.stringify(server.address())}`));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

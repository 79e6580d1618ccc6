/**
 * Local receivers for alert deliveries: a real SMTP server (smtp-server) and an HTTP server standing in for
 * Slack's incoming webhook or any JSON webhook. Both record what they were sent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Mail {
  to: string;
  body: string;
}

export async function smtpReceiver(): Promise<{ server: SMTPServer; port: number; mails: Mail[]; close(): Promise<void> }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, cb) {
      let body = '';
      stream.on('data', (d: Buffer) => (body += d.toString('utf8')));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), body });
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.server.address() as AddressInfo).port;
  return { server, port, mails, close: () => new Promise((r) => server.close(() => r())) };
}

/** An HTTP receiver; `url` has a Slack-like secret path. */
export async function hookReceiver(): Promise<{ server: Server; url: string; posts: unknown[]; close(): Promise<void> }> {
  const posts: unknown[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      posts.push(JSON.parse(body));
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/XXXX`,
    posts,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A mail body with quoted-printable soft breaks and "=3D" undone. */
export const decodedMail = (m: Mail) => m.body.replace(/=\r?\n/g, '').replace(/=3D/g, '=');

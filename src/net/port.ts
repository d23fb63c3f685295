/**
 * A TCP port free on the loopback right now, for a server someone else will
 * start (workerd, a test's HTTP endpoint): the kernel picks it, then it is
 * released. Another process may take it in between; callers that cannot
 * retry should listen on port 0 themselves instead.
 */
import * as net from 'net';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

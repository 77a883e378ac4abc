import { InfralogsError, type Handler } from '@infralogs/core';

/**
 * Placeholder until the dashboard lands: a static page and a health check. It reads no
 * configuration and shows nothing from the environment, so it cannot leak a secret.
 */
const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Infralogs dashboard</title></head>
<body>
<h1>Infralogs dashboard — coming soon</h1>
<p>The systemd journal of the fleet will be shown here.</p>
</body>
</html>
`;

const handler: Handler = async (event, context) => {
  if (event.method !== 'GET' && event.method !== 'HEAD') {
    throw new InfralogsError('BAD_REQUEST', 'the dashboard only answers GET');
  }
  if (event.path === '/healthz') return { status: 'ok' };
  if (event.path === '/' || event.path === '') {
    context.headers({ 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    return PAGE;
  }
  throw new InfralogsError('NOT_FOUND', `no page at ${event.path}`);
};

export default handler;

/**
 * Step 04: a session that throws ends its own connection, not the busy loop (server-kit's
 * session guard), and an error answer survives a client still sending (lingering close).
 */
import { describeFaultContainment } from '@course/testkit/faults';

describeFaultContainment('04-nonblocking', [
  { name: 'busy', args: ['--poller', 'busy'] },
  { name: 'poll', args: ['--poller', 'poll'] },
]);

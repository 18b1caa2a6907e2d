/**
 * Step 05: a session that throws ends its own connection, not the reactor (server-kit's session
 * guard), and an error answer survives a client still sending (lingering close).
 */
import { describeFaultContainment } from '@course/testkit/faults';

describeFaultContainment('05-epoll-native', [
  { name: 'lt', args: ['--mode', 'lt'] },
  { name: 'et', args: ['--mode', 'et'] },
]);

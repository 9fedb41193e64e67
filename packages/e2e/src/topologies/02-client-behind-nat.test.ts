/**
 * Topology 2, client behind NAT: A (FTP client + ftpfwd) on a LAN behind a MASQUERADE gateway; B
 * (ftpfwd-sshd + ftp-srv) on the WAN. On the gateway's WAN side only SSH may appear, and no byte of
 * the files in clear.
 *
 * The scenario is examples/02-client-behind-nat.yaml, run with ftpfwd-lab's runner; each expectation there is a test.
 */
import { labScenario } from '../lab/test-support/suite.js';

labScenario('02-client-behind-nat.yaml');

/**
 * Topology 5, gateway: ftpfwd on LAN host G listens on its LAN address; FTP clients on two other LAN
 * hosts use it (passive data listeners on the address they reached, active connections from G to
 * them). G itself reaches the SSH server through a NAT gateway; on the NAT's WAN side only SSH.
 *
 * The scenario is examples/05-gateway.yaml, run with ftpfwd-lab's runner; each expectation there is a test.
 */
import { labScenario } from '../lab/test-support/suite.js';

labScenario('05-gateway.yaml');

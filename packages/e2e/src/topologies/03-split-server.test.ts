/**
 * Topology 3, split server: ftpfwd-sshd on B, ftp-srv on C in B's private network, A on the WAN.
 * Passive works as is; active works with --remote-data-bind/--remote-data-advertise set to B's private
 * address and the sshd's gateway ports on. ftp-srv sees every control and data connection come from B.
 *
 * The scenario is examples/03-split-server.yaml, run with ftpfwd-lab's runner; each expectation there is a test.
 */
import { labScenario } from '../lab/test-support/suite.js';

labScenario('03-split-server.yaml');

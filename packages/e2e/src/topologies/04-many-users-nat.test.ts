/**
 * Topology 4, many users behind one NAT: three FTP client hosts behind one NAT gateway, each through
 * its own ftpfwd, plus three FTP sessions through one shared ftpfwd on a fourth host. Every session
 * has its own files; all transfers run at once. Every file must arrive intact (so no session saw
 * another's data), every user's SSH connection leaves the NAT on its own port, and every data channel
 * reaching ftp-srv is a connection of its own.
 *
 * The scenario is examples/04-many-users-nat.yaml, run with ftpfwd-lab's runner; each expectation there is a test.
 */
import { labScenario } from '../lab/test-support/suite.js';

labScenario('04-many-users-nat.yaml');

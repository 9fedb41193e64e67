/**
 * Topology 10, other programs: ftpfwd through OpenSSH's sshd to Debian's vsftpd, with lftp and curl;
 * OpenSSH's DEBUG1 log shows the channels ftpfwd opened (direct-tcpip to port 21, tcpip-forward for
 * active data), and b's full capture shows no marker crossing in clear.
 *
 * The scenario is examples/10-openssh-vsftpd.yaml, run with ftpfwd-lab's runner; each expectation there is a test.
 */
import { labScenario } from '../lab/test-support/suite.js';

labScenario('10-openssh-vsftpd.yaml');

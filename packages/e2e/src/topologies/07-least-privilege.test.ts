/**
 * Topology 7, least privilege: ftpfwd-sshd permits only 127.0.0.1:21/ftp. It reads the FTP control
 * stream to permit exactly the data channels each session announces, so transfers work in every mode,
 * while a plain tcp/ forward to another port of the same host (a live HTTP server) is refused.
 *
 * The scenario is examples/07-least-privilege.yaml, run with ftpfwd-lab's runner; each expectation there is a test.
 */
import { labScenario } from '../lab/test-support/suite.js';

labScenario('07-least-privilege.yaml');

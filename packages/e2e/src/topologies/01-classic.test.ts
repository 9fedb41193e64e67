/**
 * Topology 1, classic: FTP client + ftpfwd on host A; ftpfwd-sshd + ftp-srv (on its loopback) on
 * host B; one network. The seed's "end-to-end" deployment: both modes work and only SSH crosses.
 *
 * The scenario is examples/01-classic.yaml, run with ftpfwd-lab's runner; each expectation there is a test.
 */
import { labScenario } from '../lab/test-support/suite.js';

labScenario('01-classic.yaml');

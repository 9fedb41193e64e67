/**
 * Topology 6, the server announces a bad address: ftp-srv's pasv_url is 192.0.2.1, an address nothing
 * routes to. With the default --pasv-target control, ftpfwd sends passive data to the host of the
 * control connection and everything works; with --pasv-target reply it follows the 227 reply, and the
 * PASV transfer fails with the bad address named in ftpfwd's log.
 *
 * The scenario is examples/06-bad-pasv-address.yaml, run with ftpfwd-lab's runner; each expectation there is a test.
 */
import { labScenario } from '../lab/test-support/suite.js';

labScenario('06-bad-pasv-address.yaml');
